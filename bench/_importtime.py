"""How long ``import genai_trace`` takes in a fresh interpreter (``-X importtime``)."""

from __future__ import annotations

import statistics
import subprocess
from typing import Any


def _cumulative_us(stderr: str, module: str) -> int | None:
    # Lines read "import time: <self us> | <cumulative us> | <indent><module>".
    for line in stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[2].strip() == module:
            return int(parts[1])
    return None


def import_time_ms(python: str, workdir: str, runs: int) -> dict[str, Any]:
    """Median over ``runs`` of the cumulative import time of genai_trace, in ms."""
    samples = []
    for _ in range(runs):
        completed = subprocess.run(
            [python, "-X", "importtime", "-c", "import genai_trace"],
            cwd=workdir,
            capture_output=True,
            text=True,
            check=False,
        )
        cumulative = _cumulative_us(completed.stderr, "genai_trace")
        if cumulative is not None:
            samples.append(cumulative / 1000)
    if not samples:
        return {"status": "error"}
    return {"status": "ok", "median_ms": statistics.median(samples), "samples_ms": samples}
