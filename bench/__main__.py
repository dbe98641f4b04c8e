"""``python -m bench``: the end-to-end table, every row in its own interpreter.

By default every row ships every span to a local OTLP/HTTP receiver in a process of its
own (or to the local store), and the table gives process CPU per span over loop plus flush
(see ``bench/_e2e.py``). Options: ``--rows NAME[,NAME...]`` (default: all, see
``bench/_e2e.py``; ``floor@<peer>`` measures the floor again in a peer's venv),
``--spans N`` per shape and repetition (11,000), ``--reps N`` (3), ``--quick`` (1,100 spans,
1 repetition), ``--json PATH`` (raw results). Peers run in their own venvs:
``bash bench/setup_peers.sh`` first.

``--diagnostic``: the older caller-thread rows, whose sinks drop spans unread (so
genai-trace never builds a trace there). They are a diagnostic of the caller's cost, not
the headline; ``--only``, ``--python`` and ``--quick`` apply to them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import _harness
from bench._e2e import ROWS
from bench._importtime import import_time_ms
from bench._registry import SCENARIOS, Scenario
from bench._report import render
from bench.store_size import render as store_size_render

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIO_TIMEOUT_S = 900


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument(
        "--diagnostic", action="store_true", help="the older no-read sink rows instead"
    )
    parser.add_argument("--rows", metavar="NAME", help="end-to-end rows, comma-separated")
    parser.add_argument("--spans", type=int, default=11_000, help="spans per shape and rep")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (median reported)")
    parser.add_argument("--json", metavar="PATH", help="write the raw results here")
    parser.add_argument(
        "--only", metavar="NAME", help=f"comma-separated scenarios: {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--python", metavar="PATH", help="interpreter for the peer scenarios (a peers venv)"
    )
    args = parser.parse_args(argv)
    if args.rows:
        unknown = sorted({r.split("@")[0] for r in args.rows.split(",")} - set(ROWS))
        if unknown:
            parser.error(f"unknown row(s) {', '.join(unknown)}; known: {', '.join(ROWS)}")
    if args.only:
        unknown = sorted(set(args.only.split(",")) - set(SCENARIOS))
        if unknown:
            parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
    return args


def run_scenario(name: str, python: str, quick: bool, workdir: str) -> dict[str, Any]:
    """One scenario in a fresh interpreter; its result comes back through a file."""
    out_path = os.path.join(workdir, f"{name}.json")
    command = [python, "-m", "bench._runner", name, out_path] + (["--quick"] if quick else [])
    env = dict(os.environ)
    # The bench package must import under any interpreter, so put the repo on its path; the
    # working directory is a scratch one, so nothing a library writes lands in the repo.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    try:
        completed = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {SCENARIO_TIMEOUT_S}s"}
    if completed.returncode != 0 or not os.path.exists(out_path):
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        return {"status": "error", "reason": " | ".join(tail) or f"exit {completed.returncode}"}
    with open(out_path, encoding="utf-8") as result_file:
        result: dict[str, Any] = json.load(result_file)
    if completed.stderr.strip():
        result["stderr"] = completed.stderr.strip()[-2000:]
    return result


def plan_runs(args: argparse.Namespace) -> list[tuple[str, Scenario, str]]:
    """(row name, scenario, interpreter) in the order they run."""
    names = args.only.split(",") if args.only else list(SCENARIOS)
    runs = []
    for name in names:
        scenario = SCENARIOS[name]
        runs.append(
            (name, scenario, (args.python or sys.executable) if scenario.peer else sys.executable)
        )
    # abspath, not realpath: two venvs of one base Python resolve to the same binary.
    peers_python = args.python and os.path.abspath(args.python) != os.path.abspath(sys.executable)
    if peers_python and any(s.peer for _, s, _ in runs):
        # The peers' interpreter has its own OpenTelemetry: measure the floor there too.
        for floor in ("floor", "floor_11"):
            runs.append((f"{floor}@peers", SCENARIOS[floor], args.python))
    return runs


def machine() -> dict[str, Any]:
    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "opentelemetry-sdk": version("opentelemetry-sdk"),
        "genai-trace": version("genai-trace"),
        "commit": _commit(),
        "orjson": version("orjson"),
        # Other work on a small machine moves every number; the load says how much there was.
        "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def _commit() -> str | None:
    """The commit measured, with ``-dirty`` when the working tree had changes."""
    try:
        completed = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return completed.stdout.strip() or None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if args.diagnostic:
        return diagnostic(args)
    rows = args.rows.split(",") if args.rows else list(_harness.DEFAULT_ROWS)
    spans, reps = (1_100, 1) if args.quick else (args.spans, args.reps)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    e2e = _harness.run_all(rows, spans, reps)
    info = {**machine(), "loadavg_1m_before": load_before, "spans": spans, "reps": reps}
    print(_harness.render(e2e, info))
    store = store_size(300 if args.quick else 5000)
    print("\nThe local store: bytes per trace and prune throughput (`python -m bench.store_size`)")
    print(store_size_render(store))
    if args.json:
        payload = {"machine": info, "results": e2e, "store": store}
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return 0


_STORE_SIZE = "import json, bench.store_size as s; print(json.dumps(s.measure({traces})))"


def store_size(traces: int) -> dict[str, float]:
    """``bench.store_size`` in an interpreter of its own, like every row."""
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json, bench.store_size as s; print(json.dumps(s.measure({traces})))",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=SCENARIO_TIMEOUT_S,
        check=True,
    )
    result: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def diagnostic(args: argparse.Namespace) -> int:
    """The older rows: caller-thread cost against sinks that read nothing (not the headline)."""
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="genai-trace-bench-") as workdir:
        for row, scenario, python in plan_runs(args):
            print(f"running {row} ...", file=sys.stderr, flush=True)
            result = run_scenario(scenario.name, python, args.quick, workdir)
            result["python_path_is_peers"] = python != sys.executable
            results[row] = result
        imports = import_time_ms(sys.executable, workdir, runs=3 if args.quick else 7)
    info = machine()  # after the run, so the load average covers it
    print(render(results, imports, info, peers_python=bool(args.python)))
    if args.json:
        payload = {"machine": info, "import_time": imports, "quick": args.quick, "results": results}
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
