"""The fluent API: ``@trace``, ``start_span``, ``get_current_span``, ``update_current_trace``.

Decorator and context manager share one code path, :class:`SpanScope`: open a span with its
inputs already serialized (snapshot semantics), make it current, and on the way out record
outputs or the exception, end the span and restore the previous context.
"""

from __future__ import annotations

import functools
import os
import time
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from genai_trace import _redact, _runtime, _switch
from genai_trace import _semconv as sc
from genai_trace._capture import (
    attribute_value,
    clean_text,
    from_text,
    payload_text,
    safe_repr,
    to_text,
)
from genai_trace._errors import log_internal_error, logger, warn_misuse, warn_once
from genai_trace._scope import Tags, lenient_id, lenient_metadata, lenient_tags, tag_attributes
from genai_trace._span import GenAISpan, add_input, set_output, text_of
from genai_trace._trace_builder import TraceUpdates

if TYPE_CHECKING:
    from genai_trace._assembler import TraceAssembler

_NOTHING: Any = object()
T = TypeVar("T")


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
        inputs: Any = _NOTHING,
        parent: context_api.Context | None = None,
    ) -> SpanScope | None:
        """Start a span as a child of the current one and make it current.

        ``inputs`` are serialized now, before the user's code can mutate them. Returns
        ``None`` when tracing is off or failed (the caller runs the user's code untraced).
        """
        try:
            rt = _runtime.get()
            if rt is None or _switch.disabled:  # the first span may read GENAI_TRACE_DISABLED
                return None
            limit = rt.config.max_payload_chars
            assembler = rt.assembler
            if inputs is not _NOTHING and _redact.capture_content:
                add_input(attributes, *payload_text(inputs, limit, assembler.redaction_room()))
            span = rt.tracer.start_span(name, context=parent, attributes=attributes)
            return cls(span, parent, limit, assembler)
        except Exception:
            log_internal_error("opening a span")
            return None

    def record_payload(self, value_key: str, mime_key: str, value: Any) -> None:
        """Set inputs or outputs on the span (``GenAISpan.set_inputs``/``set_outputs``)."""
        text, mime = payload_text(value, self._limit, self._assembler.redaction_room())
        if mime is None:  # it waits with the text, and replaces any earlier one then
            self.span.set_attribute(value_key, text)
        else:  # always: an earlier value may have left another type
            self.span.set_attributes({value_key: text, mime_key: mime})

    def suspend(self) -> None:
        """Stop being the current span (a generator yields to its consumer)."""
        token, self._token = self._token, None
        if token is not None:
            _detach(token)

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

    def finish(self, outputs: Any = _NOTHING, event: str | None = None) -> None:
        """Record ``outputs`` (unless omitted), end the span, restore the context."""
        try:
            if outputs is not _NOTHING and _redact.capture_content:
                text, mime = payload_text(outputs, self._limit, self._assembler.redaction_room())
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
    redactor = _redact.active
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


def _detach(token: object) -> None:
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


class start_span(AsyncWith[GenAISpan]):  # a function to its users; a class for a cheap `with`
    """Open a span around a block: ``with genai_trace.start_span("retrieve") as span:``.

    The span is a child of the current span and is current inside the block. An exception
    leaving the block is recorded (status ERROR, ``exception`` event) and propagates.
    Works with ``async with`` too. Never raises: a name that is not a str is replaced by
    its text, a span type of another type by CHAIN, and attributes that are not a mapping
    are dropped, each with one warning on the ``genai_trace`` logger.

    Args:
        name: The span's name.
        span_type: A :class:`SpanType` or a custom string.
        inputs: What the block receives; serialized at entry.
        attributes: Extra span attributes; structured values are stored as JSON.

    Example:
        >>> with genai_trace.start_span("retrieve", span_type=SpanType.RETRIEVER,
        ...                             inputs={"query": q}) as span:
        ...     docs = index.search(q)
        ...     span.set_outputs(docs)
    """

    __slots__ = ("_attributes", "_inputs", "_name", "_scope")

    def __init__(
        self,
        name: str,
        span_type: sc.SpanType | str = sc.SpanType.CHAIN,
        inputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str):
            warn_misuse("start_span(name=...)", "a str", name, "its text is the name")
            name = text_of(name)
        if not isinstance(span_type, (str, sc.SpanType)):
            warn_misuse("start_span(span_type=...)", "a SpanType or a str", span_type, "CHAIN")
            span_type = sc.SpanType.CHAIN
        if attributes is not None and not isinstance(attributes, Mapping):
            warn_misuse("start_span(attributes=...)", "a mapping", attributes, "dropped")
            attributes = None
        self._name = clean_text(name)
        self._attributes = static_attributes(span_type, attributes)
        self._inputs = _NOTHING if inputs is None else inputs
        self._scope: SpanScope | None = None

    def __enter__(self) -> GenAISpan:
        if _switch.disabled:
            return GenAISpan(trace_api.INVALID_SPAN)
        # Each start_span makes its own dict, and opening only ever adds the inputs to it.
        self._scope = SpanScope.open(self._name, self._attributes, self._inputs)
        if self._scope is None:
            return GenAISpan(trace_api.INVALID_SPAN)
        return GenAISpan(self._scope.span, self._scope)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        scope, self._scope = self._scope, None
        if scope is None:
            return
        if exc is None:
            scope.finish()
        else:
            scope.fail(exc)


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
            static[name] = attribute_value(value, _runtime.max_payload_chars(), name)
    static.update(sc.span_type_attributes(span_type))
    return static


@functools.lru_cache(maxsize=256)
def _type_attributes(span_type: sc.SpanType | str) -> dict[str, str]:
    return sc.span_type_attributes(span_type)  # callers copy it: the cached dict stays as is


def get_current_span() -> GenAISpan:
    """The current span, whoever started it, as a :class:`GenAISpan`.

    Outside any span this is a non-recording placeholder whose methods do nothing.

    Example:
        >>> # inside a FastAPI handler instrumented by OpenTelemetry:
        >>> span = genai_trace.get_current_span()
        >>> span.set_span_type(SpanType.CHAIN)
        >>> span.set_inputs(request_body)
    """
    return GenAISpan(trace_api.get_current_span())


def update_current_trace(
    request_preview: str | None = None,
    response_preview: str | None = None,
    tags: Tags | None = None,
    metadata: Mapping[str, Any] | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    client_request_id: str | None = None,
) -> None:
    """Set trace-level facts from any span of the current trace.

    Values given here win over the defaults computed from the root span (the Request and
    Response previews are the root's inputs and outputs otherwise). Tags and metadata merge
    with earlier ones.

    Never raises. A value of another type is coerced where its meaning is clear: an int or
    UUID id becomes its text, a preview that is not a str is recorded as JSON text, a bare
    string of tags is one tag. Anything else (an id of another type, metadata that is not a
    mapping, tags that are neither a mapping nor a list) is dropped with one warning on the
    ``genai_trace`` logger. Called where nothing can be updated, it says why once (outside
    any span, in a part of the trace no span of this process is in, after the trace was
    exported), and nothing when tracing is off on purpose (``genai_trace.disable()``,
    ``OTEL_SDK_DISABLED``) or the sampler dropped the trace.

    Example:
        >>> @genai_trace.trace
        ... def answer(question: str) -> str:
        ...     genai_trace.update_current_trace(
        ...         request_preview=question[:200], tags={"team": "search"}, user_id="ada"
        ...     )
        ...     ...
    """
    if _switch.disabled or sdk_disabled():
        return
    span = trace_api.get_current_span()
    context = span.get_span_context()
    if not _can_update(context):
        return
    call = "update_current_trace({}=...)".format
    try:
        found = _update_trace(
            context.trace_id,
            _preview_text(request_preview),
            _preview_text(response_preview),
            lenient_tags(call("tags"), tags),
            dict(lenient_metadata(call("metadata"), metadata) or {}),
            lenient_id(call("session_id"), session_id),
            lenient_id(call("user_id"), user_id),
            lenient_id(call("client_request_id"), client_request_id),
        )
    except Exception:
        log_internal_error("update_current_trace")
        return
    if not found:
        _warn_not_in_assembly(span)


def sdk_disabled() -> bool:
    """Whether ``OTEL_SDK_DISABLED`` turns the OpenTelemetry SDK off (its own test of it)."""
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def _can_update(context: trace_api.SpanContext) -> bool:
    """Whether the current span's trace may be in assembly here; warns why not, if it matters."""
    if not context.is_valid:
        warn_once(
            "update outside trace",
            "genai_trace: update_current_trace() was called outside any span; nothing updated",
        )
        return False
    if not context.trace_flags.sampled:  # the sampler's choice: nothing to record, no fault
        logger.debug("genai_trace: update_current_trace() in an unsampled trace; not recorded")
        return False
    if context.is_remote:
        warn_once(
            "update remote parent",
            "genai_trace: update_current_trace() was called inside extract() before any span "
            "started; the trace's facts belong to a span of this process, so nothing updated",
        )
        return False
    return True


def _warn_not_in_assembly(span: trace_api.Span) -> None:
    if span.is_recording():
        warn_once(
            "update unknown trace",
            "genai_trace: update_current_trace() was called in a span genai-trace does not "
            "assemble (another TracerProvider's, or its trace was already exported after "
            "trace_timeout_s or max_buffered_traces); nothing updated",
        )
    else:
        warn_once(
            "update after end",
            "genai_trace: update_current_trace() was called after its trace was exported; "
            "nothing updated",
        )


def _preview_text(value: object) -> str | None:
    """A preview as text: a str as is, any other value as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return to_text(value, _runtime.max_payload_chars())[0]


def _update_trace(
    trace_id: int,
    request_preview: str | None,
    response_preview: str | None,
    tags: dict[str, str],
    metadata: dict[str, Any],
    session_id: str | None,
    user_id: str | None,
    client_request_id: str | None,
) -> bool:
    """Apply the facts to the trace in assembly; ``False`` when it is not in assembly here."""
    rt = _runtime.get()
    if rt is None:
        return True  # shut down: nothing records, nothing to say
    request_preview, response_preview, session_id, user_id, client_request_id = (
        None if text is None else clean_text(text)
        for text in (request_preview, response_preview, session_id, user_id, client_request_id)
    )
    if not _redact.capture_content:
        request_preview = response_preview = None
    redactor = _redact.active
    if redactor is not None:  # trace-level facts reach exporters directly: redact them too
        request_preview = None if request_preview is None else redactor.text(request_preview)
        response_preview = None if response_preview is None else redactor.text(response_preview)
        tags = {k: redactor.text(v, k) for k, v in tags.items()}
    if metadata:
        # A snapshot through the capture path: redacted, cut to the cap, cycles and odd keys
        # made safe, and no longer the caller's object to mutate.
        snapshot = from_text(*to_text(metadata, rt.config.max_payload_chars))
        metadata = snapshot if isinstance(snapshot, dict) else {"metadata": snapshot}
    merged: dict[str, Any] = {}

    def apply(updates: TraceUpdates) -> None:
        if request_preview is not None:
            updates.request_preview = request_preview
        if response_preview is not None:
            updates.response_preview = response_preview
        if session_id is not None:
            updates.session_id = session_id
        if user_id is not None:
            updates.user_id = user_id
        if client_request_id is not None:
            updates.client_request_id = client_request_id
        updates.tags.update(tags)
        updates.metadata.update(metadata)
        merged["tags"] = dict(updates.tags)
        merged["metadata"] = dict(updates.metadata)

    root = rt.assembler.update_trace(trace_id, apply)
    if root is None:
        return False
    if not root.is_recording():
        return True
    # Mirror onto the live root span, so the app's own exporters see the same facts.
    limit = rt.config.max_payload_chars
    mirror: dict[str, Any] = {}
    if request_preview is not None:
        mirror[sc.TRACE_REQUEST_PREVIEW] = attribute_value(request_preview, limit)
    if response_preview is not None:
        mirror[sc.TRACE_RESPONSE_PREVIEW] = attribute_value(response_preview, limit)
    if session_id is not None:
        mirror[sc.SESSION_ID] = session_id
    if user_id is not None:
        mirror[sc.USER_ID] = user_id
    if client_request_id is not None:
        mirror[sc.TRACE_CLIENT_REQUEST_ID] = client_request_id
    if tags:
        mirror.update(tag_attributes(merged["tags"]))
    if metadata:
        mirror[sc.METADATA] = attribute_value(merged["metadata"], limit)
    root.set_attributes(mirror)
    return True
