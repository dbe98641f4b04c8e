"""GenAISpan: the GenAI view of any OpenTelemetry span, ours or another library's."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from genai_trace._errors import log_internal_error, warn_misuse
from genai_trace._runtime import state as _runtime
from genai_trace._runtime.ids import format_span_id, format_trace_id
from genai_trace._runtime.live import live
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import (
    WaitingText,
    attribute_value,
    clean_text,
    safe_repr,
    to_text,
)

if TYPE_CHECKING:
    from genai_trace._api.fluent import SpanScope

_STATUS_CODES = {"OK": StatusCode.OK, "ERROR": StatusCode.ERROR, "UNSET": StatusCode.UNSET}
_MAX_COUNT = 2**63 - 1  # OTLP carries integer attributes as int64


class GenAISpan:
    """A span with GenAI meaning: type, inputs, outputs, token usage.

    Wraps any OTel span, so it also annotates spans that other instrumentations started.
    No method raises into your code. A value of the wrong type is coerced where its meaning
    is clear (a name that is not a str becomes its text, an attribute key its repr, a token
    count of ``12.0`` or ``"12"`` becomes ``12``); anything else (a NaN, negative, bool or
    fractional token count, an unknown status, attributes that are not a mapping) is
    dropped with one warning on the ``genai_trace`` logger. An internal failure is logged
    once and the span carries less.

    Example:
        >>> with genai_trace.start_span("retrieve", span_type=SpanType.RETRIEVER) as span:
        ...     span.set_inputs({"query": "otlp"})
        ...     span.set_outputs(["doc-1", "doc-2"])
    """

    __slots__ = ("_scope", "_span")

    def __init__(self, span: trace_api.Span, scope: SpanScope | None = None) -> None:
        self._span = span
        self._scope = scope  # set for the span of a ``start_span`` block

    # --- identity ----------------------------------------------------------------------

    @property
    def otel_span(self) -> trace_api.Span:
        """The OpenTelemetry span underneath."""
        return self._span

    @property
    def trace_id(self) -> str:
        """32 hex digits (all zeros for a non-recording placeholder)."""
        return format_trace_id(self._span.get_span_context().trace_id)

    @property
    def span_id(self) -> str:
        """16 hex digits."""
        return format_span_id(self._span.get_span_context().span_id)

    @property
    def parent_id(self) -> str | None:
        """The parent's span id, ``None`` for a root."""
        parent = getattr(self._span, "parent", None)
        return format_span_id(parent.span_id) if parent is not None else None

    @property
    def name(self) -> str:
        """The span's current name ("" for a non-recording span)."""
        return str(getattr(self._span, "name", ""))

    @property
    def span_type(self) -> str:
        """The span type recorded on the span, ``UNKNOWN`` when none is."""
        attributes = getattr(self._span, "attributes", None) or {}
        from genai_trace._runtime.builder import span_type_of

        return span_type_of(attributes)

    def is_recording(self) -> bool:
        """Whether the span still takes data (not ended, and sampled)."""
        return self._span.is_recording()

    # --- GenAI meaning -----------------------------------------------------------------

    def set_inputs(self, inputs: Any) -> None:
        """Record what the step received (strings as text, anything else as JSON)."""
        self._set_payload(sc.INPUT_VALUE, sc.INPUT_MIME_TYPE, inputs)

    def set_outputs(self, outputs: Any) -> None:
        """Record what the step produced."""
        self._set_payload(sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE, outputs)

    def set_span_type(self, span_type: sc.SpanType | str) -> None:
        """Set the span's type; also marks a foreign span's trace as a GenAI trace."""
        if not isinstance(span_type, (str, sc.SpanType)):
            warn_misuse("GenAISpan.set_span_type()", "a SpanType or a str", span_type, "ignored")
            return
        try:
            attributes = sc.span_type_attributes(span_type)
            # Always the exact type here: it may replace a custom type set at the start.
            attributes[sc.SPAN_TYPE] = sc.span_type_value(span_type)
            self._span.set_attributes(attributes)
            rt = _runtime.current()
            if rt is not None:
                rt.assembler.mark_genai(self._span.get_span_context().trace_id)
        except Exception:
            log_internal_error("GenAISpan.set_span_type")

    def set_token_usage(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        total_tokens: int | None = None,
    ) -> None:
        """Record an LLM call's token usage (counted once in the trace's totals).

        Counts are ints from 0; an integral float or a numeric string is converted, any
        other value is dropped with a warning. ``total_tokens`` defaults to the sum.
        """
        input_tokens = _token_count("input_tokens", input_tokens)
        output_tokens = _token_count("output_tokens", output_tokens)
        total_tokens = _token_count("total_tokens", total_tokens)
        attributes: dict[str, int] = {}
        if input_tokens is not None:
            attributes[sc.LLM_TOKEN_COUNT_PROMPT] = int(input_tokens)
            attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = int(input_tokens)
        if output_tokens is not None:
            attributes[sc.LLM_TOKEN_COUNT_COMPLETION] = int(output_tokens)
            attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = int(output_tokens)
        if total_tokens is None and input_tokens is not None and output_tokens is not None:
            total_tokens = input_tokens + output_tokens
        if total_tokens is not None and total_tokens <= _MAX_COUNT:
            attributes[sc.LLM_TOKEN_COUNT_TOTAL] = int(total_tokens)
        self.set_attributes(attributes)

    # --- plain OTel operations, made safe -----------------------------------------------

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; a dict or other structured value is stored as JSON text."""
        self.set_attributes({key if isinstance(key, str) else safe_repr(key, 200): value})

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes at once."""
        if not isinstance(attributes, Mapping):
            warn_misuse("GenAISpan.set_attributes()", "a mapping", attributes, "dropped")
            return
        try:
            self._span.set_attributes(_clean_attributes(attributes))
        except Exception:
            log_internal_error("GenAISpan.set_attributes")

    def add_event(
        self,
        name: str,
        attributes: Mapping[str, Any] | None = None,
        timestamp_ns: int | None = None,
    ) -> None:
        """Add a point-in-time event."""
        if not isinstance(name, str):
            warn_misuse("GenAISpan.add_event(name=...)", "a str", name, "its text is the name")
            name = text_of(name)
        if attributes is not None and not isinstance(attributes, Mapping):
            warn_misuse("GenAISpan.add_event(attributes=...)", "a mapping", attributes, "dropped")
            attributes = None
        timestamp_ns = _time_ns("GenAISpan.add_event(timestamp_ns=...)", timestamp_ns)
        try:
            cleaned = _clean_attributes(attributes) if attributes else None
            self._span.add_event(clean_text(name), cleaned, timestamp_ns)
        except Exception:
            log_internal_error("GenAISpan.add_event")

    def record_exception(self, exception: BaseException) -> None:
        """Add an ``exception`` event (type, message, stack trace); status is unchanged."""
        if not isinstance(exception, BaseException):
            warn_misuse("GenAISpan.record_exception()", "an exception", exception, "ignored")
            return
        try:
            self._span.record_exception(exception)
        except Exception:
            log_internal_error("GenAISpan.record_exception")

    def set_status(self, status: str | StatusCode, description: str | None = None) -> None:
        """Set the status: ``"OK"``, ``"ERROR"`` (with a description) or ``"UNSET"``."""
        code = _STATUS_CODES.get(status.upper()) if isinstance(status, str) else status
        if not isinstance(code, StatusCode):
            warn_misuse("GenAISpan.set_status()", "'OK', 'ERROR' or 'UNSET'", status, "ignored")
            return
        if description is not None and not isinstance(description, str):
            description = text_of(description)
        try:
            self._span.set_status(Status(code, description if code is StatusCode.ERROR else None))
        except Exception:
            log_internal_error("GenAISpan.set_status")

    def update_name(self, name: str) -> None:
        """Rename the span (a name that is not a str is replaced by its text)."""
        if not isinstance(name, str):
            warn_misuse("GenAISpan.update_name()", "a str", name, "its text is the name")
            name = text_of(name)
        try:
            self._span.update_name(clean_text(name))
        except Exception:
            log_internal_error("GenAISpan.update_name")

    def end(self, end_time_ns: int | None = None) -> None:
        """End the span (spans from ``start_span``/``@trace`` end on their own)."""
        end_time_ns = _time_ns("GenAISpan.end(end_time_ns=...)", end_time_ns)
        try:
            self._span.end(end_time_ns)
        except Exception:
            log_internal_error("GenAISpan.end")

    def _set_payload(self, value_key: str, mime_key: str, value: Any) -> None:
        if not live.capture_content:
            return
        try:
            if self._scope is not None:
                self._scope.record_payload(value_key, mime_key, value)
                return
            text, mime = to_text(value, live.payload_cap, redactor=live.redactor)
            self._span.set_attributes({value_key: text, mime_key: mime})
        except Exception:
            log_internal_error("GenAISpan." + value_key)

    def __repr__(self) -> str:
        return f"GenAISpan(name={self.name!r}, trace_id={self.trace_id}, span_id={self.span_id})"


def add_input(attributes: dict[str, Any], text: str, mime_type: str | None) -> None:
    """Put a span's inputs among its start attributes, from :func:`payload_text`'s result.

    text/plain is the convention's default, and ``None`` means the type waits for the
    build: neither is written.
    """
    attributes[sc.INPUT_VALUE] = text
    if mime_type is not None and mime_type != sc.MIME_TEXT:
        attributes[sc.INPUT_MIME_TYPE] = mime_type


def set_output(span: trace_api.Span, text: str, mime_type: str | None) -> None:
    """Set a span's own output, and its mime type where the span would otherwise say another.

    text/plain is the convention's default, so it is written only over the JSON type an
    earlier ``set_outputs`` left (a type the app set itself stays); a waiting payload's type
    (``None`` for JSON) is set with its redaction when the trace is built, which corrects a
    JSON one left the same way.
    """
    if mime_type is None or (
        mime_type == sc.MIME_TEXT
        and (isinstance(text, WaitingText) or _output_type(span) != sc.MIME_JSON)
    ):
        span.set_attribute(sc.OUTPUT_VALUE, text)
    else:
        span.set_attributes({sc.OUTPUT_VALUE: text, sc.OUTPUT_MIME_TYPE: mime_type})


def _output_type(span: trace_api.Span) -> object:
    attributes = getattr(span, "attributes", None)
    return None if attributes is None else attributes.get(sc.OUTPUT_MIME_TYPE)


def _token_count(name: str, value: object) -> int | None:
    """A token count as an int from 0, or ``None`` (warned) when ``value`` is not one."""
    if value is None:
        return None
    count: int | None = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        count = int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        count = int(number) if math.isfinite(number) and number.is_integer() else None
    elif isinstance(value, str) and _is_count_text(value.strip()):
        count = int(value.strip())
    if count is None or not 0 <= count <= _MAX_COUNT:
        call = f"GenAISpan.set_token_usage({name}=...)"
        warn_misuse(call, "a count of tokens (an int from 0)", value, "the count is dropped")
        return None
    return count


def _is_count_text(text: str) -> bool:
    return 0 < len(text) <= 19 and text.isascii() and text.isdigit()


def _time_ns(call: str, value: object) -> int | None:
    """A time in epoch nanoseconds, or ``None`` (now; warned) when ``value`` is not one."""
    if value is None or (
        isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT
    ):
        return value
    warn_misuse(call, "epoch nanoseconds (an int from 0)", value, "the current time is used")
    return None


def text_of(value: object) -> str:
    """``str(value)``, or a stand-in for a value whose ``__str__`` raises."""
    try:
        return str(value)
    except Exception:
        return safe_repr(value)


def _clean_attributes(attributes: Mapping[str, Any]) -> dict[str, Any]:
    limit = live.payload_cap
    cleaned: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None:
            continue
        name = key if isinstance(key, str) else safe_repr(key, 200)
        cleaned[name] = attribute_value(value, limit, name, redactor=live.redactor)
    return cleaned
