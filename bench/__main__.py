"""``python -m bench``: run every scenario in its own interpreter and print one table.

Options: ``--quick`` (a smoke run), ``--only NAME[,NAME...]``, ``--json PATH`` (raw
results), ``--python PATH`` (the interpreter for the peer libraries; the floor is then
measured again under it, so peer ratios compare like with like).
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

from bench._importtime import import_time_ms
from bench._registry import SCENARIOS, Scenario
from bench._report import render

REPO_ROOT = Path(__file__).resolve().parent.parent
SCENARIO_TIMEOUT_S = 900


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke run)")
    parser.add_argument("--json", metavar="PATH", help="write the raw results here")
    parser.add_argument(
        "--only", metavar="NAME", help=f"comma-separated scenarios: {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--python", metavar="PATH", help="interpreter for the peer scenarios (a peers venv)"
    )
    args = parser.parse_args(argv)
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
