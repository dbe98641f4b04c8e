"""Every example runs in one command, as a user would run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, cwd: Path) -> str:
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_quickstart(tmp_path: Path) -> None:
    out = run_example("quickstart.py", tmp_path)
    lines = out.splitlines()
    assert (
        lines[0]
        == "In short: OTLP is the OpenTelemetry protocol for sending traces, metrics and logs."
    )
    assert "request:  What is otlp ?" in lines
    assert "tokens:   TokenUsage(input_tokens=13, output_tokens=13, total_tokens=26)" in lines
    tree = [
        line.split(" ms")[0].rsplit(" ", 1)[0] for line in lines if line.lstrip().startswith("- ")
    ]
    assert tree == ["- answer [CHAIN]", "  - retrieve [RETRIEVER]", "  - chat [CHAT_MODEL]"]
