"""Whole traces back to OpenTelemetry ``ReadableSpan``s, for OTLP and OTLP-JSON output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from genai_trace._semantics.model import SpanRecord, Trace
from genai_trace._semantics.redaction import dropped_nothing, recorded_items
from genai_trace._semantics.semconv import STATUS_CODES

UNFINISHED = "genai_trace.span.unfinished"
"""Set on a span exported before it ended; its end time is the trace's last known time."""

_SCOPE = InstrumentationScope("genai_trace")
_KINDS = {kind.name: kind for kind in SpanKind}


def _scope(name: str | None) -> InstrumentationScope:
    """The span's own tracer name, so a backend shows which library recorded it."""
    return _SCOPE if name is None or name == _SCOPE.name else InstrumentationScope(name)


def record_scope(span: ReadableSpan) -> InstrumentationScope:
    """The scope a span rebuilt from its record carries: its tracer's name only."""
    scope = span.instrumentation_scope
    return _scope(scope.name if scope is not None else None)


def sent_as_rebuilt(span: ReadableSpan) -> bool:
    """Whether ``span`` sent as it is writes the bytes its copy rebuilt from its record does.

    Given the same attributes, and scopes by :func:`record_scope`. A record keeps no trace
    state, links or drop counts, and an unfinished span gets an end time: a span with any of
    those must go through its record.
    """
    context = span.context
    parent = span.parent
    status = span.status
    events = recorded_items(span, "events")
    return (
        span.end_time is not None
        and context is not None
        and not context.trace_state
        and (parent is None or parent.is_valid)
        and not recorded_items(span, "links")
        and dropped_nothing(span)
        and (status.description is None or status.status_code is StatusCode.ERROR)
        and span.instrumentation_scope is not None
        and (not events or all(not event.dropped_attributes for event in events))
    )


def to_otel_spans(
    trace: Trace, attributes: Mapping[str, Mapping[str, Any]], resource: Resource
) -> list[ReadableSpan]:
    """One ``ReadableSpan`` per span, carrying ``attributes[span_id]`` (a dialect's output)."""
    last_time = max(
        [s.end_time_ns or s.start_time_ns for s in trace.spans] or [trace.info.start_time_ns]
    )
    return [
        _otel_span(span, dict(attributes.get(span.span_id, span.attributes)), resource, last_time)
        for span in trace.spans
    ]


def _otel_span(
    span: SpanRecord, attributes: dict[str, Any], resource: Resource, last_time: int
) -> ReadableSpan:
    trace_id = int(span.trace_id, 16)
    context = SpanContext(
        trace_id, int(span.span_id, 16), is_remote=False, trace_flags=TraceFlags(1)
    )
    parent = None
    if span.parent_id is not None:
        parent = SpanContext(trace_id, int(span.parent_id, 16), is_remote=span.parent_is_remote)
    end_time = span.end_time_ns
    if end_time is None:
        attributes[UNFINISHED] = True
        end_time = max(last_time, span.start_time_ns)
    status_code = STATUS_CODES.get(span.status, StatusCode.UNSET)
    return ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=attributes,
        events=[Event(e.name, dict(e.attributes), timestamp=e.timestamp_ns) for e in span.events],
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=Status(
            status_code, span.status_message if status_code is StatusCode.ERROR else None
        ),
        start_time=span.start_time_ns,
        end_time=end_time,
        instrumentation_scope=_scope(span.instrumentation_scope),
    )
