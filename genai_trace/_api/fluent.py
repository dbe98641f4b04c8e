"""The fluent API: what runs through "the current span".

``start_span`` opens a span around a block (through :class:`~genai_trace._api.span.SpanScope`,
the code path ``@trace`` shares), ``get_current_span`` annotates whichever span is current,
and ``update_current_trace`` sets trace-level facts from any span of the current trace.

Layer: ``_api``; imports ``span`` below it, and ``_runtime``/``_semantics``. The decorator and
the client import it (the client sets trace facts through :func:`update_trace`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import trace as trace_api

from genai_trace._api.span import (
    NOTHING,
    AsyncWith,
    GenAISpan,
    SpanScope,
    static_attributes,
    text_of,
)
from genai_trace._errors import log_internal_error, logger, warn_misuse, warn_once
from genai_trace._runtime import state as _runtime
from genai_trace._runtime.live import live
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import attribute_value, clean_text, from_text, to_text
from genai_trace._semantics.facts import TraceUpdates
from genai_trace._semantics.scope import (
    Tags,
    lenient_id,
    lenient_metadata,
    lenient_tags,
    tag_attributes,
)


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
        self._inputs = NOTHING if inputs is None else inputs
        self._scope: SpanScope | None = None

    def __enter__(self) -> GenAISpan:
        if live.disabled:
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
    if live.disabled or sdk_disabled():
        return
    span = trace_api.get_current_span()
    context = span.get_span_context()
    if not _can_update(context):
        return
    call = "update_current_trace({}=...)".format
    try:
        found = update_trace(
            context.trace_id,
            _preview_text(request_preview),
            _preview_text(response_preview),
            lenient_tags(call("tags"), tags, live.payload_cap),
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
    return to_text(value, live.payload_cap, redactor=live.redactor)[0]


def update_trace(
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
    if not live.capture_content:
        request_preview = response_preview = None
    redactor = live.redactor
    if redactor is not None:  # trace-level facts reach exporters directly: redact them too
        request_preview = None if request_preview is None else redactor.text(request_preview)
        response_preview = None if response_preview is None else redactor.text(response_preview)
        tags = {k: redactor.text(v, k) for k, v in tags.items()}
    if metadata:
        # A snapshot through the capture path: redacted, cut to the cap, cycles and odd keys
        # made safe, and no longer the caller's object to mutate.
        snapshot = from_text(*to_text(metadata, live.payload_cap, redactor=live.redactor))
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
    limit = live.payload_cap
    mirror: dict[str, Any] = {}
    if request_preview is not None:
        mirror[sc.TRACE_REQUEST_PREVIEW] = attribute_value(
            request_preview, limit, redactor=live.redactor
        )
    if response_preview is not None:
        mirror[sc.TRACE_RESPONSE_PREVIEW] = attribute_value(
            response_preview, limit, redactor=live.redactor
        )
    if session_id is not None:
        mirror[sc.SESSION_ID] = session_id
    if user_id is not None:
        mirror[sc.USER_ID] = user_id
    if client_request_id is not None:
        mirror[sc.TRACE_CLIENT_REQUEST_ID] = client_request_id
    if tags:
        mirror.update(tag_attributes(merged["tags"], limit))
    if metadata:
        mirror[sc.METADATA] = attribute_value(merged["metadata"], limit, redactor=redactor)
    root.set_attributes(mirror)
    return True
