"""Spans: :class:`GenAISpan` (the GenAI view of any OTel span) and :class:`SpanScope`.

A :class:`SpanScope` is the one code path by which ``start_span`` and ``@trace`` open a span:
inputs serialized at entry (snapshot semantics), the span made current, and on the way out
outputs or the exception recorded, the span ended and the previous context restored. The
span-attribute helpers shared by the fluent API, the decorator and the client live here too
(a span's declared attributes, its inputs and outputs, an exception as an event).

Layer: ``_api``, at its bottom: it imports ``_runtime`` and ``_semantics`` only; ``fluent``,
``decorator``, ``client`` and ``propagation`` import it.
"""

from __future__ import annotations

import functools
import math
import numbers
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from opentelemetry import context as context_api
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
    payload_text,
    safe_repr,
    to_text,
)
from genai_trace._semantics.facts import span_type_of

if TYPE_CHECKING:
    from genai_trace._runtime.assembler import TraceAssembler

NOTHING: Any = object()
"""An omitted input or output (``None`` is a value a span records)."""
T = TypeVar("T")
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
        *,
        cache_read_input_tokens: int | None = None,
        cache_write_input_tokens: int | None = None,
        reasoning_tokens: int | None = None,
    ) -> None:
        """Record an LLM call's token usage (counted once in the trace's totals).

        As in the OpenTelemetry GenAI conventions, ``input_tokens`` counts every input
        token, the cached ones included: ``cache_read_input_tokens`` (served from the
        provider's prompt cache) and ``cache_write_input_tokens`` (written to it) say how
        many of them were cached; ``reasoning_tokens`` says how many of ``output_tokens``
        the model spent reasoning. Each kind is priced at its own rate
        (docs/usage-and-cost.md).

        Counts are ints from 0; an integral float or a numeric string is converted, any
        other value is dropped with a warning. ``total_tokens`` defaults to the sum.

        Example:
            >>> span.set_token_usage(1200, 300, cache_read_input_tokens=1000)
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
        for name, key, value in (
            ("cache_read_input_tokens", sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
             cache_read_input_tokens),
            ("cache_write_input_tokens", sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
             cache_write_input_tokens),
            ("reasoning_tokens", sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, reasoning_tokens),
        ):  # fmt: skip
            count = _token_count(name, value)
            if count is not None:
                attributes[key] = count
        self.set_attributes(attributes)

    def set_cost(self, usd: float) -> None:
        """Record what this step cost, in US dollars: a paid API call, or an LLM call you price.

        It wins over the cost computed from the price table for this span, and counts in
        the trace's cost (docs/usage-and-cost.md says when a wrapped call counts once). A
        value that is not a finite number from 0 is dropped with a warning.

        Example:
            >>> span.set_cost(0.005)  # one call of a paid search API
        """
        if (
            isinstance(usd, bool)
            or not isinstance(usd, numbers.Real)
            or not math.isfinite(float(usd))
            or usd < 0
        ):
            warn_misuse("GenAISpan.set_cost()", "a finite number of dollars from 0", usd, "dropped")
            return
        self.set_attributes({sc.COST_USD: float(usd)})

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
        code = sc.STATUS_CODES.get(status.upper()) if isinstance(status, str) else status
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


class SpanScope:
    """One open span and the context token that made it current.

    Every method swallows internal errors (logged once): the user's code must run on.

    Redaction of the span's inputs and outputs waits for the export (the exporter's thread
    redacts them as it builds the trace) while genai-trace's assembler is the only span
    processor, since nothing else can read the span then; the assembler keeps track (see
    ``TraceAssembler.redaction_room``).
    """

    __slots__ = ("_assembler", "_limit", "_token", "span")

    def __init__(
        self,
        span: trace_api.Span,
        parent: context_api.Context | None,
        limit: int,
        assembler: TraceAssembler,
    ) -> None:
        self.span = span
        self._limit = limit
        self._assembler = assembler
        self._token: object | None = context_api.attach(trace_api.set_span_in_context(span, parent))

    @classmethod
    def open(
        cls,
        name: str,
        attributes: dict[str, Any],
        inputs: Any = NOTHING,
        parent: context_api.Context | None = None,
    ) -> SpanScope | None:
        """Start a span as a child of the current one and make it current.

        ``inputs`` are serialized now, before the user's code can mutate them. Returns
        ``None`` when tracing is off or failed (the caller runs the user's code untraced).
        """
        try:
            rt = _runtime.get()
            if rt is None or live.disabled:  # the first span may read GENAI_TRACE_DISABLED
                return None
            limit = live.payload_cap
            assembler = rt.assembler
            if inputs is not NOTHING and live.capture_content:
                add_input(
                    attributes,
                    *payload_text(
                        inputs, limit, assembler.redaction_room(), redactor=live.redactor
                    ),
                )
            span = rt.tracer.start_span(name, context=parent, attributes=attributes)
            return cls(span, parent, limit, assembler)
        except Exception:
            log_internal_error("opening a span")
            return None

    def record_payload(self, value_key: str, mime_key: str, value: Any) -> None:
        """Set inputs or outputs on the span (``GenAISpan.set_inputs``/``set_outputs``)."""
        text, mime = payload_text(
            value, self._limit, self._assembler.redaction_room(), redactor=live.redactor
        )
        if mime is None:  # it waits with the text, and replaces any earlier one then
            self.span.set_attribute(value_key, text)
        else:  # always: an earlier value may have left another type
            self.span.set_attributes({value_key: text, mime_key: mime})

    def suspend(self) -> None:
        """Stop being the current span (a generator yields to its consumer)."""
        token, self._token = self._token, None
        if token is not None:
            detach_context(token)

    def resume(self) -> None:
        """Become the current span again (the consumer asked for the next item)."""
        if self._token is None:
            self._token = context_api.attach(trace_api.set_span_in_context(self.span))

    def mark_first_item(self) -> None:
        """Record how long the first yielded item took."""
        try:
            started = getattr(self.span, "start_time", None) or time.time_ns()
            elapsed_ms = (time.time_ns() - started) / 1e6
            self.span.set_attribute(sc.TIME_TO_FIRST_ITEM_MS, round(elapsed_ms, 3))
        except Exception:
            log_internal_error("recording time to first item")

    def finish(self, outputs: Any = NOTHING, event: str | None = None) -> None:
        """Record ``outputs`` (unless omitted), end the span, restore the context."""
        try:
            if outputs is not NOTHING and live.capture_content:
                text, mime = payload_text(
                    outputs, self._limit, self._assembler.redaction_room(), redactor=live.redactor
                )
                set_output(self.span, text, mime)
            if event is not None:
                self.span.add_event(event)
            self.span.end()
        except Exception:
            log_internal_error("closing a span")
        finally:
            self.suspend()

    def fail(self, exc: BaseException) -> None:
        """Record the user's exception (status ERROR, ``exception`` event), end the span."""
        try:
            record_error(self.span, exc)
            self.span.end()
        except Exception:
            log_internal_error("recording an exception")
        finally:
            self.suspend()


def record_error(span: trace_api.Span, exc: BaseException) -> None:
    """Status ERROR with ``Type: message``, and an ``exception`` event with the stack trace.

    The event is built here rather than by the SDK's ``record_exception`` so that the
    message and stack trace are redacted like every other value, and so that an exception
    whose ``__str__`` raises still gets its event.
    """
    message = _exception_text(exc)
    try:
        stacktrace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        stacktrace = message
    redactor = live.redactor
    if redactor is not None:
        message = redactor.text(message)
        stacktrace = redactor.text(stacktrace)
    module = type(exc).__module__
    qualname = type(exc).__qualname__
    span.add_event(
        "exception",
        {
            "exception.type": qualname if module in ("builtins", None) else f"{module}.{qualname}",
            "exception.message": message,
            "exception.stacktrace": stacktrace,
            "exception.escaped": "True",
        },
    )
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {message}"))


def _exception_text(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return safe_repr(exc)


def detach_context(token: object) -> None:
    """Restore the context before ``token``'s attach; a failure is an internal error."""
    try:
        context_api.detach(token)  # type: ignore[arg-type]  # token came from attach
    except Exception:
        log_internal_error("restoring the context")


class AsyncWith(Generic[T]):
    """Adds ``async with`` to a context manager whose enter and exit never wait."""

    def __enter__(self) -> T:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> T:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, traceback)


def static_attributes(
    span_type: sc.SpanType | str, attributes: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The attributes fixed when a span is declared: its type and the user's extras."""
    if not isinstance(span_type, (str, sc.SpanType)):
        raise TypeError(f"span_type must be a SpanType or a str, got {span_type!r}")
    if attributes is None:  # the common case: the type's attributes, computed once
        return dict(_type_attributes(span_type))
    if not isinstance(attributes, Mapping):
        raise TypeError(f"attributes must be a mapping, got {attributes!r}")
    static: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if value is not None:
            name = key if isinstance(key, str) else text_of(key)  # a key's str() may raise
            static[name] = attribute_value(value, live.payload_cap, name, redactor=live.redactor)
    static.update(sc.span_type_attributes(span_type))
    return static


@functools.lru_cache(maxsize=256)
def _type_attributes(span_type: sc.SpanType | str) -> dict[str, str]:
    return sc.span_type_attributes(span_type)  # callers copy it: the cached dict stays as is


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
