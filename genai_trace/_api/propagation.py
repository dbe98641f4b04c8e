"""Moving the current context: into a span held by id, out of a process and into the next.

``use_span`` makes a span held by id current; ``inject`` and ``extract`` cross processes.
Across processes it rides on OpenTelemetry's own propagators (``OTEL_PROPAGATORS``, by
default W3C ``traceparent`` and ``baggage``), so services instrumented by anything else join
the same trace. The session and user of the enclosing ``genai_trace.context()`` travel as the
baggage entries ``session.id`` and ``user.id`` (the OpenInference attribute names), and the
receiving side re-creates that context. Each process assembles and exports its own part of
the trace: a local root whose parent is remote, which a backend joins into one trace.

Layer: ``_api``; imports ``span`` and ``baggage`` (the opt-in propagator of the session and
user), ``_semantics`` and OpenTelemetry's propagation API.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, overload

from opentelemetry import context as context_api
from opentelemetry import propagate
from opentelemetry import trace as trace_api
from opentelemetry.propagators import textmap

from genai_trace._api.baggage import scope_from_baggage, with_scope_baggage
from genai_trace._api.span import AsyncWith, GenAISpan, detach_context, record_error
from genai_trace._errors import log_internal_error, warn_once

C = TypeVar("C", bound=MutableMapping[str, str])


class HeaderCarrier(Protocol):
    """What ``extract`` reads: anything with ``get(key)``, e.g. a dict or request headers."""

    def get(self, key: str, /) -> Any:
        """Return the header's value, or ``None``."""


class use_span(AsyncWith[GenAISpan]):  # a function to its users; a class for a cheap `with`
    """Make ``span`` the current span inside the block, so new spans nest under it.

    This is how a span held by id (from :class:`~genai_trace.TraceClient`) parents
    ``@trace`` and ``start_span`` spans, and how ``inject`` sends it to another service.
    The span is not ended on exit unless ``end_on_exit=True`` (for a client span, end it
    with ``end_span``); an exception leaving the block is recorded on it only then.

    Args:
        span: A :class:`~genai_trace.GenAISpan` or any OpenTelemetry span.
        end_on_exit: End the span when the block exits.

    Example:
        >>> child = client.start_span("agent", trace_id=root.trace_id, parent_id=root.span_id)
        >>> with genai_trace.use_span(child):
        ...     answer("What is OTLP?")  # its @trace span is a child of `child`
        >>> client.end_span(trace_id=child.trace_id, span_id=child.span_id)
    """

    __slots__ = ("_end_on_exit", "_span", "_token")

    def __init__(self, span: GenAISpan | trace_api.Span, *, end_on_exit: bool = False) -> None:
        otel_span = span.otel_span if isinstance(span, GenAISpan) else span
        if not isinstance(otel_span, trace_api.Span):
            warn_once(
                "misuse use_span",
                "genai_trace: use_span() takes a GenAISpan or an OTel span, got %s; "
                "the block runs in the current context",
                type(span).__name__,
            )
            otel_span = trace_api.get_current_span()
            end_on_exit = False
        self._span = otel_span
        self._end_on_exit = end_on_exit
        self._token: object | None = None

    def __enter__(self) -> GenAISpan:
        self._token = context_api.attach(trace_api.set_span_in_context(self._span))
        return GenAISpan(self._span)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            detach_context(token)
        if not self._end_on_exit:
            return
        try:
            if exc is not None:
                record_error(self._span, exc)
            self._span.end()
        except Exception:
            log_internal_error("use_span ending the span")


@overload
def inject(carrier: None = None) -> dict[str, str]: ...


@overload
def inject(carrier: dict[str, str]) -> dict[str, str]: ...


@overload
def inject(carrier: C) -> C: ...


def inject(carrier: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Write the current trace context into ``carrier`` (outgoing request headers).

    Uses the global OpenTelemetry propagator: by default W3C ``traceparent`` (plus
    ``tracestate``) and ``baggage``. The session and user of the enclosing
    ``genai_trace.context()`` are added to the baggage, next to any the app set. Outside any
    span there is no ``traceparent``. Never raises: a carrier that is not a mutable mapping
    is returned unchanged with a warning, and internal failures
    are logged.

    Args:
        carrier: The headers to add to; a new dict when omitted.

    Returns:
        The carrier.

    Example:
        >>> with genai_trace.start_span("call_search_service", span_type=SpanType.TOOL):
        ...     headers = genai_trace.inject({"content-type": "application/json"})
        ...     httpx.post(url, json=payload, headers=headers)
    """
    if carrier is None:
        carrier = {}
    elif not isinstance(carrier, MutableMapping):
        warn_once(
            "misuse inject",
            "genai_trace: inject() takes a mutable mapping of headers, got %s; nothing injected",
            type(carrier).__name__,
        )
        return carrier
    try:
        propagate.inject(carrier, context=with_scope_baggage(context_api.get_current()))
    except Exception:
        log_internal_error("inject")
    return carrier


class extract(AsyncWith[None]):  # a function to its users; a class for a cheap `with`
    """Continue the caller's trace inside the block, from incoming request headers.

    Spans started inside are children of the caller's span (same trace id, a remote
    parent), and the caller's session and user (baggage) apply to them as if inside
    ``genai_trace.context(session_id=..., user_id=...)``. This process assembles and
    exports its own part of the trace; a backend joins the parts. Header names match in any
    case (``Traceparent`` as well as ``traceparent``), as HTTP header names do. Headers
    without a trace context leave the current one in place. Never raises: a carrier that
    is not a mapping is ignored with a warning, and internal failures are logged.

    Args:
        carrier: The incoming headers: a dict (``dict(self.headers)`` too), or anything
            with ``get`` (such as ``http.server``'s ``self.headers``, Starlette's
            ``request.headers``). A value may be a string or a list of strings.

    Example:
        >>> class Handler(BaseHTTPRequestHandler):
        ...     def do_POST(self):
        ...         with genai_trace.extract(self.headers):
        ...             with genai_trace.start_span("handle_search", span_type=SpanType.TOOL):
        ...                 ...
    """

    __slots__ = ("_carrier", "_token")

    def __init__(self, carrier: HeaderCarrier | MutableMapping[str, str]) -> None:
        if not callable(getattr(carrier, "get", None)):
            warn_once(
                "misuse extract",
                "genai_trace: extract() takes a mapping of headers, got %s; "
                "the block runs in the current context",
                type(carrier).__name__,
            )
            carrier = {}
        self._carrier = carrier
        self._token: object | None = None

    def __enter__(self) -> None:
        try:
            context = propagate.extract(
                self._carrier, context=context_api.get_current(), getter=HEADER_GETTER
            )
            context = scope_from_baggage(context)
        except Exception:
            log_internal_error("extract")
            return
        self._token = context_api.attach(context)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        token, self._token = self._token, None
        if token is not None:
            detach_context(token)


class _HeaderGetter(textmap.Getter[Any]):
    """Reads a header from any carrier with ``get``, matching its name in any case.

    HTTP header names are case-insensitive, and ``dict(self.headers)`` keeps the case the
    client sent (``urllib`` sends ``Traceparent``). The exact name is tried first: it is
    the common case, and case-insensitive carriers (``email.message.Message``, Starlette's
    headers) answer it whatever the case.
    """

    def get(self, carrier: Any, key: str) -> list[str] | None:
        value = carrier.get(key)
        if value is None:
            value = _get_ignoring_case(carrier, key)
        return _header_values(value)

    def keys(self, carrier: Any) -> list[str]:
        names = getattr(carrier, "keys", None)
        return [_header_text(name) for name in names()] if callable(names) else []


HEADER_GETTER = _HeaderGetter()


def _get_ignoring_case(carrier: Any, key: str) -> object:
    names = getattr(carrier, "keys", None)
    if not callable(names):
        return None
    wanted = key.lower()
    for name in list(names()):
        if isinstance(name, (str, bytes)) and _header_text(name).lower() == wanted:
            return carrier.get(name)
    return None


def _header_values(value: object) -> list[str] | None:
    """A header's values as strings: one string, bytes, or a list of them (a multidict)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        return [_header_text(value)]
    if isinstance(value, (list, tuple)):
        return [_header_text(item) for item in value if isinstance(item, (str, bytes))]
    return None


def _header_text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value
