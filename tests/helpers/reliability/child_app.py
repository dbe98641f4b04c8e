"""What the child processes of the reliability tests share: a traced unit of work, an exporter.

Imported by the scripts that ``faults.Child`` runs (the repository is on their path).
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import genai_trace
from genai_trace import ExportResult, Trace


def fork_with_threads() -> int:
    """``os.fork()``, without Python's warning about the threads running in the process.

    From Python 3.12 a fork of a process with threads warns (a DeprecationWarning on
    stderr): genai-trace's export threads are running, and forking them is what these tests
    are about (its fork hooks give the child fresh locks, queues and connections).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
        return os.fork()


@genai_trace.trace
def work(i: int) -> int:
    with genai_trace.start_span("step", inputs={"i": i}):
        return i * 2


def ids_of(traces: Sequence[Trace]) -> list[str]:
    """Every trace id and span id of ``traces``."""
    return [t.info.trace_id for t in traces] + [s.span_id for t in traces for s in t.spans]


class FileExporter:
    """Appends ``pid name trace_id`` per trace to a file shared by processes (O_APPEND).

    ``gate``, when given, holds every export until it is set.
    """

    def __init__(self, path: str | Path, gate: threading.Event | None = None) -> None:
        self.path = str(path)
        self.gate = gate

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        if self.gate is not None:
            self.gate.wait(60)
        lines = "".join(f"{os.getpid()} {t.info.name} {t.info.trace_id}\n" for t in traces)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def job(i: int) -> int:
    """One trace ``job-<i>`` holding one ``step`` span: a unit of work a process pool runs."""
    with genai_trace.start_span(f"job-{i}", inputs={"i": i}) as root:
        with genai_trace.start_span("step"):
            root.set_outputs(i * 2)
            return i * 2


def jobs(numbers: Sequence[int]) -> int:
    """Run :func:`job` for each number (one worker's share of the work)."""
    for i in numbers:
        job(i)
    return len(numbers)
