"""An exporter that prints each finished trace as a tree, on stderr by default."""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from typing import TextIO

from genai_trace._semantics.model import Trace
from genai_trace._semantics.render import render_trace
from genai_trace.exporters._base import ExportResult


class ConsoleTraceExporter:
    """Writes a readable tree of every trace: types, durations, status, inputs, outputs.

    Args:
        stream: Where to write; ``None`` means ``sys.stderr`` at the time of writing.
        color: ANSI colours; ``None`` means colour when the stream is a terminal.
        show_io: Include each span's inputs and outputs (one line each, truncated).

    Example:
        >>> genai_trace.configure(exporters=[ConsoleTraceExporter()])  # or GENAI_TRACE_CONSOLE=1
    """

    def __init__(
        self, stream: TextIO | None = None, *, color: bool | None = None, show_io: bool = True
    ) -> None:
        self._stream = stream
        self._color = color
        self._show_io = show_io
        # Guards the stream: one trace's lines are never interleaved with another's.
        self._lock = threading.Lock()

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Write each trace, followed by a blank line."""
        stream = self._stream or sys.stderr
        color = self._color if self._color is not None else _is_tty(stream)
        text = "".join(
            "\n".join(render_trace(trace, color=color, show_io=self._show_io)) + "\n\n"
            for trace in traces
        )
        with self._lock:
            stream.write(text)
            stream.flush()
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release; the stream belongs to the caller."""


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except Exception:
        return False
