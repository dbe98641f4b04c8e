"""How TraceClient starts and ends its OTel spans: outside the current context, never raising.

The client's spans never become current, so they are started with an explicit parent (the
invalid span for a root) and ended by id; when tracing is off they are placeholders with
real ids so the caller's later calls still line up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import Status

from genai_trace._api.fluent import _update_trace
from genai_trace._api.span import GenAISpan, add_input, set_output
from genai_trace._errors import TracingError, log_internal_error
from genai_trace._runtime import state as _runtime
from genai_trace._runtime.ids import GenAIIdGenerator, format_trace_id
from genai_trace._runtime.live import live
from genai_trace._semantics.capture import clean_text, payload_text

# Ids for placeholder spans when tracing is off (disabled, or shut down).
_PLACEHOLDER_IDS = GenAIIdGenerator()


class ClientSpan(GenAISpan):
    """A span that :class:`~genai_trace.TraceClient` started.

    Its ids are formatted once, exactly as the client's registry keys them, so passing
    ``span.trace_id`` back to the client finds the trace without parsing it.
    """

    __slots__ = ("_span_hex", "_trace_hex")

    def __init__(self, span: trace_api.Span, trace_hex: str, span_hex: str) -> None:
        super().__init__(span)
        self._trace_hex = trace_hex
        self._span_hex = span_hex

    @property
    def trace_id(self) -> str:
        """32 hex digits."""
        return self._trace_hex

    @property
    def span_id(self) -> str:
        """16 hex digits."""
        return self._span_hex


def start_client_span(
    rt: _runtime.Runtime | None,
    name: str,
    attributes: dict[str, Any],
    inputs: Any,
    parent: trace_api.Span | None,
    forced_trace_id: int | None,
    start_time_ns: int | None,
) -> trace_api.Span:
    """Start an OTel span without touching the current context; a placeholder when off.

    Raises:
        TracingError: ``forced_trace_id`` was not taken (the provider has another id generator).
    """
    if rt is None or live.disabled:
        return _placeholder(parent, forced_trace_id)
    name = clean_text(name)
    if inputs is not None and live.capture_content:
        # Redaction may wait for the trace's build, as for @trace (see SpanScope).
        room = rt.assembler.redaction_room()
        add_input(attributes, *payload_text(inputs, live.payload_cap, room, redactor=live.redactor))
    # The current context still supplies genai_trace.context() values and baggage; only the
    # parent is replaced (the invalid span makes a root). An empty context makes a root as
    # it is, and more cheaply: the SDK looks no further for a parent span.
    context = context_api.get_current()
    if parent is not None:
        context = trace_api.set_span_in_context(parent, context)
    elif context:
        context = trace_api.set_span_in_context(trace_api.INVALID_SPAN, context)
    try:
        if forced_trace_id is None:
            span = rt.tracer.start_span(
                name, context=context, attributes=attributes, start_time=start_time_ns
            )
        else:
            rt.id_generator.force_next_trace_id(forced_trace_id)
            try:
                span = rt.tracer.start_span(
                    name, context=context, attributes=attributes, start_time=start_time_ns
                )
            finally:
                rt.id_generator.force_next_trace_id(None)
    except Exception:
        log_internal_error("TraceClient starting a span")
        return _placeholder(parent, forced_trace_id)
    span_context = span.get_span_context()
    if not span_context.is_valid or (
        parent is not None and span_context.span_id == parent.get_span_context().span_id
    ):
        # No span was made: the SDK is disabled (OTEL_SDK_DISABLED), and its no-op tracer
        # hands back the parent itself, or the invalid span for a root.
        return _placeholder(parent, forced_trace_id)
    if forced_trace_id is not None and span_context.trace_id != forced_trace_id:
        span.end()
        raise TracingError(
            f"start_trace: the tracer did not take trace id {format_trace_id(forced_trace_id)}"
            " (its TracerProvider does not use genai-trace's id generator)"
        )
    return span


def finish_client_span(
    span: trace_api.Span,
    outputs: Any,
    attributes: Mapping[str, Any] | None,
    status: Status | None,
    end_time_ns: int | None,
) -> None:
    """Record outputs, attributes and status, then end the span; never raises."""
    try:
        if attributes:
            GenAISpan(span).set_attributes(attributes)
        rt = _runtime.current()
        if outputs is not None and live.capture_content and rt is not None:
            text, mime = payload_text(
                outputs, live.payload_cap, rt.assembler.redaction_room(), redactor=live.redactor
            )
            set_output(span, text, mime)
        if status is not None:
            span.set_status(status)
        span.end(end_time_ns)
    except Exception:
        log_internal_error("TraceClient ending a span")


def set_trace_facts(
    trace_id: int, tags: dict[str, str], metadata: dict[str, Any], client_request_id: str | None
) -> None:
    """Trace-level facts, the way ``update_current_trace`` sets them; never raises."""
    try:
        _update_trace(trace_id, None, None, tags, metadata, None, None, client_request_id)
    except Exception:
        log_internal_error("TraceClient.start_trace trace facts")


def ended_elsewhere(span: trace_api.Span) -> bool:
    """An SDK span whose ``end()`` was already called (by something other than the client)."""
    return isinstance(getattr(span, "end_time", None), int)


def _placeholder(parent: trace_api.Span | None, forced_trace_id: int | None) -> trace_api.Span:
    """A non-recording span with real ids, so the caller's later calls still line up."""
    if parent is not None:
        trace_int = parent.get_span_context().trace_id
    elif forced_trace_id is not None:
        trace_int = forced_trace_id
    else:
        trace_int = _PLACEHOLDER_IDS.generate_trace_id()
    context = trace_api.SpanContext(trace_int, _PLACEHOLDER_IDS.generate_span_id(), is_remote=False)
    return trace_api.NonRecordingSpan(context)
