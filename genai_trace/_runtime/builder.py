"""Finished OTel spans to a whole :class:`Trace`: each span's record, then the trace's facts.

Runs on the export worker, never on the caller's thread. The SDK side stops here: a
``ReadableSpan`` becomes a :class:`SpanRecord` (payloads decoded, waiting redaction done),
and the trace-level facts are computed by ``_semantics.facts`` from the records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from genai_trace._runtime.ids import format_span_id, format_trace_id
from genai_trace._runtime.live import live
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import from_text, redact_waiting
from genai_trace._semantics.facts import (
    TraceUpdates,
    first,
    parents_first,
    span_type_of,
    text_value,
    token_usage_of,
    trace_info,
    usage_from_output,
)
from genai_trace._semantics.messages import genai_inputs, genai_outputs, time_to_first_chunk_ms
from genai_trace._semantics.model import (
    SpanEvent,
    SpanRecord,
    SpanStatus,
    Trace,
    build_frozen,
)
from genai_trace._semantics.redaction import attribute_store


def build_trace(
    spans: Sequence[ReadableSpan],
    updates: TraceUpdates | None = None,
    incomplete_reason: str | None = None,
    dropped_spans: int = 0,
) -> Trace:
    """Build the whole trace from its OTel spans (at least one).

    Payloads recorded unredacted (:class:`~genai_trace._semantics.capture.WaitingText`: their
    redaction waited while nothing else could read the spans) are redacted here.

    Spans come out parents first, siblings in start order. The root is the local root (no
    parent, or a remote one); in a partial trace without it, the earliest span whose parent
    is missing. Facts set through ``updates`` win over the root's attributes, which win over
    what is computed from the spans.

    Raises:
        ValueError: ``spans`` is empty.
    """
    if not spans:
        raise ValueError("build_trace() needs at least one span")
    if len(spans) == 1:  # most traces: nothing to order
        records = [span_record(spans[0])]
    else:
        records = parents_first([span_record(s) for s in spans])
    return Trace(
        info=trace_info(records, updates, incomplete_reason, dropped_spans), spans=tuple(records)
    )


def span_record(span: ReadableSpan) -> SpanRecord:
    """Convert one OTel span into a :class:`SpanRecord`, decoding inputs and outputs."""
    attributes = _attributes_of(span)
    redact_waiting(attributes, live.redactor, live.payload_cap)
    context = span.context
    parent = span.parent
    scope = span.instrumentation_scope
    span_type = span_type_of(attributes)
    inputs = _decode_io(attributes, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE, genai_inputs)
    outputs = _decode_io(attributes, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE, genai_outputs)
    if sc.TIME_TO_FIRST_ITEM_MS not in attributes:
        # One name for the wait to the first item of any stream: our generators write it,
        # instrumented LLM streams get it from gen_ai.response.time_to_first_chunk.
        first_chunk_ms = time_to_first_chunk_ms(attributes)
        if first_chunk_ms is not None:
            attributes[sc.TIME_TO_FIRST_ITEM_MS] = first_chunk_ms
    usage = token_usage_of(attributes)
    if usage is None and span_type in sc.LLM_SPAN_TYPES:
        usage = usage_from_output(outputs)
    status_code = span.status.status_code
    status: SpanStatus = (
        "ERROR"
        if status_code is StatusCode.ERROR
        else "OK"
        if status_code is StatusCode.OK
        else "UNSET"
    )
    return build_frozen(
        SpanRecord,
        {
            "trace_id": format_trace_id(context.trace_id) if context else "",
            "span_id": format_span_id(context.span_id) if context else "",
            "parent_id": format_span_id(parent.span_id)
            if parent is not None and parent.is_valid
            else None,
            "name": span.name,
            "span_type": span_type,
            "start_time_ns": span.start_time or 0,
            "end_time_ns": span.end_time,
            "status": status,
            "status_message": span.status.description,
            "inputs": inputs,
            "outputs": outputs,
            "attributes": attributes,
            "events": tuple(
                SpanEvent(e.name, e.timestamp, dict(e.attributes or {})) for e in span.events
            ),
            "token_usage": usage,
            "model": first(
                text_value(attributes.get(sc.GEN_AI_RESPONSE_MODEL)),
                text_value(attributes.get(sc.GEN_AI_REQUEST_MODEL)),
                text_value(attributes.get(sc.LLM_MODEL_NAME)),
            ),
            "parent_is_remote": bool(parent is not None and parent.is_valid and parent.is_remote),
            "kind": span.kind.name,
            "instrumentation_scope": scope.name if scope is not None else None,
        },
    )


def _attributes_of(span: ReadableSpan) -> dict[str, Any]:
    """A copy of a span's attributes.

    Through the SDK's read-only view each key is fetched by a Python-level ``__getitem__``
    under a lock; the store behind it copies at C speed. The view is the fallback.
    """
    store = attribute_store(span)
    return dict(store) if store is not None else dict(span.attributes or {})


def _decode_io(
    attributes: Mapping[str, Any],
    value_key: str,
    mime_key: str,
    from_genai: Callable[[Mapping[str, Any]], Any],
) -> Any:
    """OpenInference ``input.value``/``output.value`` first, else the GenAI conventions."""
    if value_key in attributes:
        return from_text(attributes[value_key], attributes.get(mime_key))
    return from_genai(attributes)
