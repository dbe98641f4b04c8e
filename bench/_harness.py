"""The end-to-end run: start the receiver, run each row in its own interpreter, one table.

Rows of peers run under their own venv's interpreter (``bench/setup_peers.sh`` makes them
under ``.ci/venvs/peer-<name>``); a peer whose venv is missing is reported as such.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench._e2e import ROWS, row_env, summary

REPO_ROOT = Path(__file__).resolve().parent.parent
VENVS = REPO_ROOT / ".ci" / "venvs"
ROW_TIMEOUT_S = 1800
SHAPES = ("1", "11", "prompt")
SHAPE_TITLES = {
    "1": "1-span traces",
    "11": "per span, 11-span traces",
    "prompt": "1-span traces, a chat's payloads (3.5 KB in)",
}
DEFAULT_ROWS = tuple(name for name, row in ROWS.items() if row.default)
GENAI_ROWS = ("genai_otlp", "genai_store", "genai_both")
PEER_ROWS = tuple(name for name, row in ROWS.items() if row.venv)


@contextmanager
def receiver() -> Iterator[str]:
    """The receiver process; yields its base URL, stops it on the way out."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench._receiver"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=_env_with_repo(dict(os.environ)),
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError(f"the receiver did not start: {line!r}")
        yield f"http://127.0.0.1:{line[1]}"
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def _env_with_repo(env: dict[str, str]) -> dict[str, str]:
    # The bench package must import under any interpreter (peers' venvs too).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return env


def row_env_with_repo(row: str, endpoint: str) -> dict[str, str]:
    """The full environment of a row's interpreter."""
    return _env_with_repo({**os.environ, **row_env(row.split("@")[0], endpoint)})


def python_for(row: str) -> str | None:
    """The interpreter of a row: this one, or the peer's venv (``None``: not set up)."""
    base, _, venv_peer = row.partition("@")
    venv = ROWS[base].venv or (f"peer-{venv_peer}" if venv_peer else None)
    if venv is None:
        return sys.executable
    python = VENVS / venv / "bin" / "python"
    return str(python) if python.exists() else None


def row_dir(workdir: str, row: str, shape: str) -> str:
    """Where a row runs in ``workdir`` (and its store lands): the same for every repetition."""
    return os.path.join(workdir, f"{row}-{shape}")


def run_row(
    row: str, shape: str, endpoint: str, workdir: str, spans: int, reps: int
) -> dict[str, Any]:
    python = python_for(row)
    if python is None:
        return {"status": "skipped", "reason": "no venv: run bench/setup_peers.sh"}
    out_path = os.path.join(workdir, f"{row}-{shape}.json")
    rundir = row_dir(workdir, row, shape)
    os.makedirs(rundir, exist_ok=True)  # the store row's database lands here
    command = [python, "-m", "bench._e2e", row, shape, endpoint, out_path]
    command += ["--spans", str(spans), "--reps", str(reps)]
    env = row_env_with_repo(row, endpoint)
    try:
        completed = subprocess.run(
            command, cwd=rundir, env=env, capture_output=True, text=True, timeout=ROW_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "reason": f"timed out after {ROW_TIMEOUT_S}s"}
    if not os.path.exists(out_path):
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-3:]
        return {"status": "error", "reason": " | ".join(tail) or f"exit {completed.returncode}"}
    with open(out_path, encoding="utf-8") as result_file:
        result: dict[str, Any] = json.load(result_file)
    if completed.stderr.strip():
        result["stderr"] = completed.stderr.strip()[-2000:]
    return result


def run_all(
    rows: list[str], spans: int, reps: int, log: Any = sys.stderr
) -> dict[str, dict[str, dict[str, Any]]]:
    """``{row: {shape: result}}``: each repetition a round of every row and shape, as listed.

    Each repetition runs in an interpreter of its own, the rows taking turns, so that a
    burst of noise from a shared machine lands on one repetition of every row rather than
    on all of one row's; the median of the repetitions is reported.
    """
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="genai-trace-e2e-") as workdir, receiver() as url:
        for rep in range(reps):
            for row in rows:
                for shape in SHAPES:
                    print(
                        f"running {row} ({SHAPE_TITLES[shape]}), "
                        f"repetition {rep + 1} of {reps} ...",
                        file=log,
                        flush=True,
                    )
                    result = run_row(row, shape, url, workdir, spans, 1)
                    runs.setdefault(row, {}).setdefault(shape, []).append(result)
    return {
        row: {shape: _merged(results) for shape, results in shapes.items()}
        for row, shapes in runs.items()
    }


def _merged(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One row's repetitions, each run in its own interpreter, as one result."""
    failed = next((r for r in results if r.get("status") != "ok"), None)
    if failed is not None:
        return failed
    samples = [sample for r in results for sample in r["reps"]]
    warmups = [lost for r in results for lost in r["warmups_lost"]]
    return {**results[0], **summary(samples, warmups)}


# --- the table ---------------------------------------------------------------------------


def _title(row: str) -> str:
    base, _, venv_peer = row.partition("@")
    title = ROWS[base].title
    return f"{title} (in the {venv_peer} venv)" if venv_peer else title


def _cell(result: dict[str, Any], floor: dict[str, Any] | None) -> str:
    if result.get("status") != "ok":
        return str(result.get("reason", result.get("status")))
    ratio = ""
    if floor and floor.get("status") == "ok":
        ratio = f" ({result['cpu_us'] / floor['cpu_us']:.2f}x)"
    return f"{result['cpu_us']:.0f} µs{ratio}"


def _details(result: dict[str, Any]) -> str:
    if result.get("status") != "ok":
        return "-"
    problems = [
        f"{result[key]:,} {label}"
        for key, label in (
            ("lost_spans", "spans LOST"),
            ("lost_traces", "traces LOST"),
            ("extra_spans", "spans EXTRA"),
            ("extra_traces", "traces EXTRA"),
        )
        if result.get(key)
    ]
    delivered = ", ".join(problems) or "all delivered"
    size = result.get("otlp_bytes_per_span") or 0
    return (
        f"{result['wall_us']:.0f} / {result['caller_us']:.0f} / "
        f"{result['cpu_us_min']:.0f}-{result['cpu_us_max']:.0f} / {delivered}"
        + (f" / {size:.0f} B" if size else "")
    )


def render(results: dict[str, dict[str, dict[str, Any]]], machine: dict[str, Any]) -> str:
    floor = results.get("floor", {})
    lines = [
        f"machine: {machine['nproc']} CPUs, {machine['implementation']} {machine['python']}, "
        f"opentelemetry-sdk {machine['opentelemetry-sdk']}, load average (1 min, at the "
        f"end) {machine['loadavg_1m']}, genai-trace {machine['genai-trace']} at "
        f"{machine.get('commit')}",
        "",
        "CPU = process CPU per span (every thread: caller, processors, exporter threads, "
        "encoding), loop plus flush, median of the repetitions; ratio to the floor's CPU. "
        "Details: wall µs / caller-thread CPU µs / CPU min-max / delivery / OTLP request "
        "bytes, all per span.",
        "",
        "| row | "
        + " | ".join(f"CPU, {SHAPE_TITLES[shape]}" for shape in SHAPES)
        + " | "
        + " | ".join(
            f"{SHAPE_TITLES[shape]}: wall / caller / min-max / delivered" for shape in SHAPES
        )
        + " | version |",
        "|---|" + "---:|" * len(SHAPES) + "---|" * len(SHAPES) + "---|",
    ]
    for row, shapes in results.items():
        version = next((r["version"] for r in shapes.values() if r.get("version")), "-")
        cells = [_cell(shapes.get(shape, {}), floor.get(shape)) for shape in SHAPES]
        details = [_details(shapes.get(shape, {})) for shape in SHAPES]
        lines.append("| " + " | ".join([_title(row), *cells, *details, str(version)]) + " |")
    lines += ["", *_lead_lines(results)]
    return "\n".join(lines)


def _lead_lines(results: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """genai-trace's lead over the fastest peer, per shape (the issue's 2.5x target)."""
    lines = []
    for shape in SHAPES:
        peers = [
            (results[p][shape]["cpu_us"], p)
            for p in PEER_ROWS
            if results.get(p, {}).get(shape, {}).get("status") == "ok"
        ]
        if not peers:
            continue
        fastest_us, fastest = min(peers)
        leads = [
            f"{g} {fastest_us / results[g][shape]['cpu_us']:.2f}x"
            for g in GENAI_ROWS
            if results.get(g, {}).get(shape, {}).get("status") == "ok"
        ]
        lines.append(
            f"{SHAPE_TITLES[shape]}: fastest peer {fastest} ({fastest_us:.0f} µs/span); "
            f"genai-trace's lead (peer CPU / genai-trace CPU): {', '.join(leads) or '-'}"
        )
    return lines
