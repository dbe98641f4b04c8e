"""Exporters that drop what they receive, so the benchmark measures tracing, not I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult


class NoopSpanExporter(SpanExporter):
    """An OpenTelemetry span exporter whose ``export`` does nothing but count.

    The count (over all instances in the process) proves the spans really went through the
    library's pipeline: a misconfigured peer that records nothing would look fast.
    """

    exported = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        NoopSpanExporter.exported += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class NoopTraceExporter:
    """A genai-trace exporter that drops whole traces (counts them, for the no-loss run)."""

    def __init__(self) -> None:
        # Imported here, not at module top: peer scenarios import this module without
        # genai-trace installed in their interpreter.
        from genai_trace import ExportResult

        self._success = ExportResult.SUCCESS
        self.traces = 0
        self.spans = 0

    def export(self, traces: Sequence[Any]) -> Any:
        # Two additions per batch, on the export thread: negligible, and the no-loss run
        # needs the counts.
        self.traces += len(traces)
        self.spans += sum(len(t.spans) for t in traces)
        return self._success

    def shutdown(self) -> None:
        pass
