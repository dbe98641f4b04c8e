"""Two checkouts (or rows) side by side: ``python -m bench.ab [--shape S] [--rounds N] ROW ...``.

Each ``ROW`` is an end-to-end row (``bench/_e2e.py``), optionally ``ROW@DIR``: the row run
with the genai-trace of the checkout at ``DIR`` first on the path (a ``git worktree`` of
another commit). Every round runs each row once, in an interpreter of its own, one after
the other, against one receiver; the medians and minimums of CPU per span are printed, and
for two neighbouring arguments of one row (``ROW@DIR ROW``) the median of the rounds' paired
changes. A peer's row runs in its venv (``bash bench/setup_peers.sh``). ``--shape prompt``
gives each call a chat's payloads (about 3.5 KB in), where the costs that grow with the
text show. For a change too small for the noise of one run of the full table:

    git worktree add ../before HEAD~1
    python -m bench.ab --rounds 6 genai_store@../before genai_store
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from bench import _workload
from bench._harness import python_for, receiver, row_env_with_repo


def run(row: str, checkout: str | None, shape: str, url: str, spans: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="genai-trace-ab-") as scratch:
        out = os.path.join(scratch, "result.json")
        env = row_env_with_repo(row, url)
        if checkout is not None:
            env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(checkout), env["PYTHONPATH"]])
        python = python_for(row)
        if python is None:
            return {"status": "skipped", "reason": f"{row}'s venv is not set up"}
        command = [python, "-m", "bench._e2e", row, shape, url, out]
        command += ["--spans", str(spans), "--reps", "1"]
        subprocess.run(command, cwd=scratch, env=env, check=True, capture_output=True)
        with open(out, encoding="utf-8") as result:
            return json.load(result)  # type: ignore[no-any-return]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ab")
    parser.add_argument("rows", nargs="+", help="ROW or ROW@CHECKOUT_DIR")
    parser.add_argument("--shape", default="1", choices=sorted(_workload.SHAPES))
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--spans", type=int, default=11_000)
    args = parser.parse_args(argv)
    cpu: dict[str, list[float]] = {spec: [] for spec in args.rows}
    with receiver() as url:
        for _ in range(args.rounds):
            for spec in args.rows:
                row, _, checkout = spec.partition("@")
                result = run(row, checkout or None, args.shape, url, args.spans)
                if result.get("status") != "ok" or result.get("lost_spans"):
                    print(f"{spec}: {result.get('status')} {result.get('reason', '')}")
                    return 1
                cpu[spec].append(float(result["cpu_us"]))  # type: ignore[arg-type]
    for spec, values in cpu.items():
        runs = ", ".join(f"{v:.0f}" for v in values)
        print(f"{spec:40s} median {statistics.median(values):6.1f} µs  min {min(values):6.1f}  "
              f"({runs})")  # fmt: skip
    for before, after in zip(args.rows, args.rows[1:], strict=False):
        if before.partition("@")[0] == after.partition("@")[0]:
            print(f"{after} against {before}: {paired_change(cpu[before], cpu[after])}")
    return 0


def paired_change(before: list[float], after: list[float]) -> str:
    """The median of each round's change: a slow minute of the machine lands on both rows of
    its round, so the pairs resolve a smaller change than the two medians do."""
    changes = [b - a for a, b in zip(before, after, strict=True)]
    ratios = [b / a for a, b in zip(before, after, strict=True)]
    return (
        f"median change {statistics.median(changes):+.1f} µs a span "
        f"({statistics.median(ratios) - 1:+.1%}), "
        f"{sum(c < 0 for c in changes)} of {len(changes)} rounds lower"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
