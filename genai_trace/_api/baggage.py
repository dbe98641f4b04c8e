"""Session and user as W3C baggage: how ``genai_trace.context()`` crosses processes.

``inject``/``extract`` use these helpers, and :class:`SessionBaggagePropagator` puts them in
OpenTelemetry's own propagation, for calls that the requests or httpx instrumentations make.
This module must not import ``opentelemetry.propagate``: that module loads the propagators
named in ``OTEL_PROPAGATORS`` (this one among them) while it is being imported.
"""

from __future__ import annotations

from opentelemetry import baggage
from opentelemetry import context as context_api
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators import textmap

from genai_trace._errors import log_internal_error
from genai_trace._runtime.live import live
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.scope import EMPTY_SCOPE, SCOPE_KEY, TraceScope

_BAGGAGE_KEYS = (sc.SESSION_ID, sc.USER_ID)


def with_scope_baggage(context: context_api.Context) -> context_api.Context:
    """``context`` with its ``genai_trace.context()`` session and user added to the baggage."""
    scope = context_api.get_value(SCOPE_KEY, context)
    if not isinstance(scope, TraceScope):
        return context
    for key, value in zip(_BAGGAGE_KEYS, (scope.session_id, scope.user_id), strict=True):
        if value is not None:
            context = baggage.set_baggage(key, value, context)
    return context


def scope_from_baggage(context: context_api.Context) -> context_api.Context:
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
        scope = EMPTY_SCOPE
    live.scope_in_use = True
    merged = scope.merged(
        session_id, user_id, {}, None, cap=live.payload_cap, redactor=live.redactor
    )
    return context_api.set_value(SCOPE_KEY, merged, context)


class SessionBaggagePropagator(W3CBaggagePropagator):
    """W3C baggage that also carries the session and user of ``genai_trace.context()``.

    ``genai_trace.inject`` always sends them; this propagator sends them wherever
    OpenTelemetry propagates, so a call made through the ``requests`` or ``httpx``
    instrumentation carries them too. On the receiving side it re-creates them for the
    spans of the request, also when a server instrumentation (FastAPI, Flask) extracts the
    headers instead of ``genai_trace.extract``. It sends nothing beyond what ``inject``
    sends: the baggage the app set, ``session.id`` and ``user.id``. Use it in place of the
    ``baggage`` propagator, not beside it (both write the same header)::

        OTEL_PROPAGATORS=tracecontext,genai_trace_baggage

    Example:
        >>> from opentelemetry.propagate import set_global_textmap
        >>> from opentelemetry.propagators.composite import CompositePropagator
        >>> from opentelemetry.trace.propagation.tracecontext import (
        ...     TraceContextTextMapPropagator,
        ... )
        >>> set_global_textmap(CompositePropagator(
        ...     [TraceContextTextMapPropagator(), genai_trace.SessionBaggagePropagator()]
        ... ))
    """

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: context_api.Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        """Write the baggage header, with the current session and user added."""
        try:
            context = with_scope_baggage(context_api.get_current() if context is None else context)
        except Exception:
            log_internal_error("SessionBaggagePropagator.inject")
        super().inject(carrier, context, setter)

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: context_api.Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> context_api.Context:
        """Read the baggage header, and re-create the session and user it carries."""
        context = super().extract(carrier, context, getter)
        try:
            return scope_from_baggage(context)
        except Exception:
            log_internal_error("SessionBaggagePropagator.extract")
            return context
