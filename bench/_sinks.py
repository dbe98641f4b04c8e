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
    """A genai-trace exporter that drops whole traces, counting them.

    ``read=False`` (the comparison with the OTel floor, whose sink reads nothing either):
    only the traces are counted, so no trace is ever built (genai-trace builds a trace's
    records when an exporter first reads them). ``read=True``: every span record is read,
    so each trace is built as an exporter that ships its content would build it.
    """

    def __init__(self, read: bool = False) -> None:
        # Imported here, not at module top: peer scenarios import this module without
        # genai-trace installed in their interpreter.
        from genai_trace import ExportResult

        self._success = ExportResult.SUCCESS
        self.read = read
        self.traces = 0
        self.spans = 0

    def export(self, traces: Sequence[Any]) -> Any:
        self.traces += len(traces)
        if self.read:
            self.spans += sum(len(t.spans) for t in traces)
        return self._success

    def shutdown(self) -> None:
        pass
