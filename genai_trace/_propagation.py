"""Moving the current context: into a span held by id, out of a process and into the next.

``use_span`` makes a span held by id current; ``inject`` and ``extract`` cross processes.
Across processes it rides on OpenTelemetry's own propagators (``OTEL_PROPAGATORS``, by
default W3C ``traceparent`` and ``baggage``), so services instrumented by anything else join
the same trace. The session and user of the enclosing ``genai_trace.context()`` travel as the
baggage entries ``session.id`` and ``user.id`` (the OpenInference attribute names), and the
receiving side re-creates that context. Each process assembles and exports its own part of
the trace: a local root whose parent is remote, which a backend joins into one trace.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from types import TracebackType
from typing import Any, Protocol, TypeVar, overload

from opentelemetry import baggage, propagate
from opentelemetry import context as context_api
from opentelemetry import trace as trace_api

from genai_trace import _semconv as sc
from genai_trace._errors import log_internal_error
from genai_trace._fluent import AsyncWith, record_error
from genai_trace._scope import SCOPE_KEY, TraceScope, current_scope
from genai_trace._span import GenAISpan

_BAGGAGE_KEYS = (sc.SESSION_ID, sc.USER_ID)

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
            raise TypeError(f"use_span() takes a GenAISpan or an OTel span, got {span!r}")
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
            _detach(token)
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
    span there is no ``traceparent``. Internal failures are logged, never raised.

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
        raise TypeError(f"inject() takes a mutable mapping of headers, got {carrier!r}")
    try:
        context = context_api.get_current()
        scope = current_scope()
        if scope is not None:
            for key, value in zip(_BAGGAGE_KEYS, (scope.session_id, scope.user_id), strict=True):
                if value is not None:
                    context = baggage.set_baggage(key, value, context)
        propagate.inject(carrier, context=context)
    except Exception:
        log_internal_error("inject")
    return carrier


class extract(AsyncWith[None]):  # a function to its users; a class for a cheap `with`
    """Continue the caller's trace inside the block, from incoming request headers.

    Spans started inside are children of the caller's span (same trace id, a remote
    parent), and the caller's session and user (baggage) apply to them as if inside
    ``genai_trace.context(session_id=..., user_id=...)``. This process assembles and
    exports its own part of the trace; a backend joins the parts. Headers without a
    trace context leave the current one in place. Internal failures are logged, never raised.

    Args:
        carrier: The incoming headers: a dict, or anything with ``get`` (such as
            ``http.server``'s ``self.headers``, Starlette's ``request.headers``).

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
            raise TypeError(f"extract() takes a mapping of headers, got {carrier!r}")
        self._carrier = carrier
        self._token: object | None = None

    def __enter__(self) -> None:
        try:
            context = propagate.extract(self._carrier, context=context_api.get_current())
            context = _scope_from_baggage(context)
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
            _detach(token)


def _scope_from_baggage(context: context_api.Context) -> context_api.Context:
    """Re-create the caller's ``genai_trace.context()`` session and user from baggage."""
    session_id, user_id = (baggage.get_baggage(key, context) for key in _BAGGAGE_KEYS)
    if not isinstance(session_id, str):
        session_id = None
    if not isinstance(user_id, str):
        user_id = None
    if session_id is None and user_id is None:
        return context
    scope = context_api.get_value(SCOPE_KEY, context)
    if not isinstance(scope, TraceScope):
        scope = TraceScope(None, None, {}, {})
    return context_api.set_value(SCOPE_KEY, scope.merged(session_id, user_id, {}, None), context)


def _detach(token: object) -> None:
    try:
        context_api.detach(token)  # type: ignore[arg-type]  # token came from attach
    except Exception:
        log_internal_error("restoring the context")
