"""An exporter that keeps traces in a list, for tests and notebooks."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from genai_trace._semantics.feedback import Feedback, FeedbackDelivery
from genai_trace._semantics.model import Trace
from genai_trace.exporters._base import ExportResult


class InMemoryTraceExporter:
    """Keeps every exported trace in memory, in export order.

    Example:
        >>> exporter = InMemoryTraceExporter()
        >>> genai_trace.configure(exporters=[exporter])
        >>> ...; genai_trace.flush()
        >>> [t.info.name for t in exporter.get_finished_traces()]
    """

    def __init__(self) -> None:
        # Guards _traces: export runs on a worker thread while tests read from theirs.
        self._lock = threading.Lock()
        self._traces: list[Trace] = []
        self._feedback: list[Feedback] = []  # also guarded by _lock

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Append ``traces``."""
        with self._lock:
            self._traces.extend(traces)
        return ExportResult.SUCCESS

    def export_feedback(self, deliveries: Sequence[FeedbackDelivery]) -> ExportResult:
        """Keep each feedback (see :func:`genai_trace.log_feedback`)."""
        with self._lock:
            self._feedback.extend(delivery.feedback for delivery in deliveries)
        return ExportResult.SUCCESS

    def get_feedback(self) -> list[Feedback]:
        """The feedback exported so far, in export order."""
        with self._lock:
            return list(self._feedback)

    def get_finished_traces(self) -> list[Trace]:
        """Return a copy of the traces exported so far."""
        with self._lock:
            traces = list(self._traces)
        return [t.built() for t in traces]  # built here, on the reader's thread, if not yet

    def clear(self) -> None:
        """Forget the traces (and feedback) exported so far."""
        with self._lock:
            self._traces.clear()
            self._feedback.clear()

    def shutdown(self) -> None:
        """Nothing to release."""
