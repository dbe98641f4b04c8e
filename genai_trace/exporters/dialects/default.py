"""The default dialect: attributes as recorded, plus the trace-level facts on the root span."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import to_json, to_text
from genai_trace._semantics.facts import SpanFacts
from genai_trace._semantics.model import SpanRecord, Trace, TraceInfo, find_root, usage_details
from genai_trace._semantics.scope import tag_attributes

_CAP = 100_000
"""The cap on what a dialect re-serializes (recorded values were cut to the app's cap)."""

TRACE_STATE = "genai_trace.trace.state"
TRACE_SPAN_COUNT = "genai_trace.trace.span_count"
TRACE_COMPLETE = "genai_trace.trace.complete"
TRACE_INCOMPLETE_REASON = "genai_trace.trace.incomplete_reason"
TRACE_INPUT_TOKENS = "genai_trace.trace.input_tokens"
TRACE_OUTPUT_TOKENS = "genai_trace.trace.output_tokens"
TRACE_TOTAL_TOKENS = "genai_trace.trace.total_tokens"


def trace_level_attributes(info: TraceInfo) -> dict[str, Any]:
    """The trace's facts as root-span attributes, with native types (never JSON in JSON).

    Example:
        >>> trace_level_attributes(trace.info)["genai_trace.trace.total_tokens"]
        19
    """
    attributes: dict[str, Any] = {
        TRACE_STATE: info.state,
        TRACE_SPAN_COUNT: info.span_count,
        TRACE_COMPLETE: info.complete,
    }
    # One test per fact, in a fixed order (a dict of them filtered costs more per trace).
    if info.request_preview is not None:
        attributes[sc.TRACE_REQUEST_PREVIEW] = info.request_preview
    if info.response_preview is not None:
        attributes[sc.TRACE_RESPONSE_PREVIEW] = info.response_preview
    if info.client_request_id is not None:
        attributes[sc.TRACE_CLIENT_REQUEST_ID] = info.client_request_id
    if info.session_id is not None:
        attributes[sc.SESSION_ID] = info.session_id
    if info.user_id is not None:
        attributes[sc.USER_ID] = info.user_id
    if info.incomplete_reason is not None:
        attributes[TRACE_INCOMPLETE_REASON] = info.incomplete_reason
    if info.token_usage is not None:
        attributes[TRACE_INPUT_TOKENS] = info.token_usage.input_tokens
        attributes[TRACE_OUTPUT_TOKENS] = info.token_usage.output_tokens
        attributes[TRACE_TOTAL_TOKENS] = info.token_usage.total_tokens
    if info.tags:
        attributes.update(tag_attributes(dict(info.tags), _CAP))
    if info.metadata:
        attributes[sc.METADATA] = to_json(dict(info.metadata), _CAP)
    return attributes


def span_attributes(trace: Trace) -> dict[str, dict[str, Any]]:
    """Every span's recorded attributes; the root also carries the trace-level facts.

    Example:
        >>> span_attributes(trace)[trace.root.span_id]["genai_trace.trace.request_preview"]
        'What is OTLP?'
    """
    out = {span.span_id: _with_open_conventions(span) for span in trace.spans}
    root = trace.root
    if root is not None:
        attributes = out[root.span_id]
        attributes.update(_without_repeats(trace_level_attributes(trace.info), root, attributes))
    return out


class SpanView(SpanFacts, Protocol):
    """A span before its record: its final attributes and type (``_runtime.builder``'s)."""

    @property
    def span_type(self) -> str:
        """Our span type, the OpenInference kind, the GenAI operation's, or ``UNKNOWN``."""
        ...


def view_attributes(views: Sequence[SpanView], info: TraceInfo) -> list[Mapping[str, Any]] | None:
    """:func:`span_attributes` of the trace whose views (parents first) and facts are given.

    Each span's attributes in the views' order, equal to what :func:`span_attributes` gives
    for the built trace; only the root's are copied. ``None`` when a span needs its record:
    one whose open-convention keys would come from its decoded inputs and outputs.
    """
    out: list[Mapping[str, Any]] = []
    for view in views:
        attributes = view.attributes
        if sc.OPENINFERENCE_SPAN_KIND not in attributes and view.span_type != "UNKNOWN":
            return None
        out.append(attributes)
    root = find_root(views)
    if root is not None:
        index = views.index(root)
        attributes = dict(out[index])
        attributes.update(_without_repeats(trace_level_attributes(info), root, attributes))
        out[index] = attributes
    return out


_PREVIEW_SOURCES = (
    (sc.TRACE_REQUEST_PREVIEW, sc.INPUT_VALUE),
    (sc.TRACE_RESPONSE_PREVIEW, sc.OUTPUT_VALUE),
)


def _without_repeats(
    facts: dict[str, Any], root: SpanFacts, sent: dict[str, Any]
) -> dict[str, Any]:
    """``facts`` less a computed preview that repeats the root's input or output text.

    A backend shows ``input.value``/``output.value`` already; sending the same text again
    doubled a small trace's bytes. A preview set on purpose (``update_current_trace``, which
    also records it on the root) is always sent.
    """
    for preview_key, value_key in _PREVIEW_SOURCES:
        preview = facts.get(preview_key)
        if (
            preview is not None
            and preview_key not in root.attributes
            and preview == sent.get(value_key)
        ):
            del facts[preview_key]
    return facts


def _with_open_conventions(span: SpanRecord) -> dict[str, Any]:
    """A span's attributes, plus OpenInference keys where only GenAI keys were recorded.

    An LLM client instrumentation writes ``gen_ai.*`` keys only; backends that render
    OpenInference (Phoenix) then show a generic span. What the trace builder understood
    from those keys (type, messages, usage, model) is added under the keys they read.
    """
    attributes = dict(span.attributes)
    if sc.OPENINFERENCE_SPAN_KIND in attributes or span.span_type == "UNKNOWN":
        return attributes
    attributes.update(sc.span_type_attributes(span.span_type))
    for value, value_key, mime_key in (
        (span.inputs, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE),
        (span.outputs, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE),
    ):
        if value is not None and value_key not in attributes:
            # Recorded values were redacted as they were captured (foreign spans as they
            # ended): an exporter re-serializes them, it does not redact again.
            text, mime = to_text(value, _CAP, redactor=None)
            attributes[value_key] = text
            attributes[mime_key] = mime
    usage = span.token_usage
    if usage is not None and sc.LLM_TOKEN_COUNT_PROMPT not in attributes:
        attributes[sc.LLM_TOKEN_COUNT_PROMPT] = usage.input_tokens
        attributes[sc.LLM_TOKEN_COUNT_COMPLETION] = usage.output_tokens
        attributes[sc.LLM_TOKEN_COUNT_TOTAL] = usage.total_tokens
        for key, count in usage_details(usage, _OPENINFERENCE_DETAILS).items():
            attributes.setdefault(key, count)
    if span.model is not None:
        attributes.setdefault(sc.LLM_MODEL_NAME, span.model)
    return attributes


_OPENINFERENCE_DETAILS = (
    sc.LLM_TOKEN_COUNT_CACHE_READ,
    sc.LLM_TOKEN_COUNT_CACHE_WRITE,
    sc.LLM_TOKEN_COUNT_REASONING,
)
