"""``autolog("mcp")``: one trace across an MCP client's tool call and the server's handling.

The ``mcp`` SDK (2.x) already follows the OpenTelemetry MCP conventions: each request the
client sends is a CLIENT span whose W3C trace context travels in the request's
``params._meta`` (SEP-414), and the server's OpenTelemetry middleware opens a SERVER span
(``tools/call <tool>``, ``gen_ai.operation.name`` ``execute_tool``) as its child. What a
genai-trace user misses there, and what this module adds:

- the client's ``tools/call`` span is a ``TOOL`` span (``tools/call <tool>``) holding the
  arguments and the result, captured, truncated and redacted as ``@trace`` captures
  inputs and outputs; it replaces the SDK's own client span for that request, so the
  server's span is its direct child;
- the server's span holds the arguments and the result too;
- the session and user of the caller's ``genai_trace.context()`` cross in ``_meta`` as W3C
  baggage, and the server's part of the trace carries them.

Everything hooks into the SDK's private modules (the only seams it has), so each hook is
checked before any is set: when the SDK's internals change, a warning is logged once and the
calls run untraced by this module (the SDK's own spans still appear).

Layer: ``integrations``; imports ``_api`` (spans, propagation, baggage) and OpenTelemetry's
instrumentation base class, which the ``mcp`` extra installs.
"""

from __future__ import annotations

import contextvars
import importlib
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)

from genai_trace._api.baggage import scope_from_baggage
from genai_trace._api.fluent import start_span
from genai_trace._api.propagation import inject
from genai_trace._api.span import GenAISpan
from genai_trace._errors import log_internal_error, warn_once
from genai_trace._semantics.semconv import SpanType

SUPPORTED = ("mcp >= 2.0, < 3",)
"""The SDK versions whose internals these hooks know (2.x ships the OTel support)."""

TOOLS_CALL = "tools/call"

# The client's tool span, while its request is being sent: the SDK's client span for that
# request adopts it instead of starting its own.
_adoptable: contextvars.ContextVar[trace_api.Span | None] = contextvars.ContextVar(
    "genai_trace_mcp_tool_span", default=None
)

# (module, attribute): where each hook goes. The dispatcher and the server middleware import
# the SDK's OTel helpers by name, so the hooks replace those names in the importing module.
_CLIENT_SESSION = ("mcp.client.session", "ClientSession")
_DISPATCHER = "mcp.shared.jsonrpc_dispatcher"
_SERVER_OTEL = "mcp.server._otel"

# (owner, name, original) of each hook set, to put back on uninstrument. Module state, not
# the instrumentor's: BaseInstrumentor is a singleton whose __init__ runs on every call.
_originals: list[tuple[Any, str, Any]] = []


class MCPInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Hooks genai-trace into the ``mcp`` SDK's client and server (see the module)."""

    def instrumentation_dependencies(self) -> Collection[str]:
        """The ``mcp`` versions these hooks fit."""
        return SUPPORTED

    def _instrument(self, **kwargs: Any) -> None:
        targets = _targets()
        if targets is None:
            return
        session_class, dispatcher, server_otel = targets
        middleware = server_otel.OpenTelemetryMiddleware
        replacements = [
            (session_class, "call_tool", _traced_call_tool(session_class.call_tool)),
            (dispatcher, "otel_span", _adopting_otel_span(dispatcher.otel_span)),
            (dispatcher, "inject_trace_context", _inject_with_scope),
            (server_otel, "extract_trace_context", _extract_with_scope(server_otel)),
            (middleware, "__call__", _traced_middleware(middleware.__call__)),
        ]
        for owner, name, replacement in replacements:
            _originals.append((owner, name, getattr(owner, name)))
            setattr(owner, name, replacement)

    def _uninstrument(self, **kwargs: Any) -> None:
        while _originals:
            owner, name, original = _originals.pop()
            setattr(owner, name, original)


def _targets() -> tuple[Any, Any, Any] | None:
    """The SDK objects the hooks replace, or ``None`` (warned once) when any is missing."""
    try:
        session_class = getattr(importlib.import_module(_CLIENT_SESSION[0]), _CLIENT_SESSION[1])
        dispatcher = importlib.import_module(_DISPATCHER)
        server_otel = importlib.import_module(_SERVER_OTEL)
        for owner, name in (
            (session_class, "call_tool"),
            (dispatcher, "otel_span"),
            (dispatcher, "inject_trace_context"),
            (server_otel, "extract_trace_context"),
            (server_otel.OpenTelemetryMiddleware, "__call__"),
        ):
            if not callable(getattr(owner, name)):
                raise AttributeError(name)
    except (ImportError, AttributeError) as error:
        warn_once(
            "autolog mcp internals",
            "genai_trace.autolog('mcp'): this mcp SDK does not have the internals genai-trace "
            "hooks into (%s); MCP calls keep only the SDK's own spans",
            error,
        )
        return None
    return session_class, dispatcher, server_otel


def _traced_call_tool(original: Callable[..., Any]) -> Callable[..., Any]:
    async def call_tool(
        self: Any, name: str, arguments: dict[str, Any] | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        with start_span(
            f"{TOOLS_CALL} {name}",
            span_type=SpanType.TOOL,
            inputs=arguments or {},
            attributes=_tool_attributes(name),
        ) as span:
            # Disabled or unsampled: the SDK's own client span carries the context.
            own = span.otel_span if span.otel_span.is_recording() else None
            token = _adoptable.set(own)
            try:
                result = await original(self, name, arguments, *args, **kwargs)
            finally:
                _adoptable.reset(token)
            _record_result(span, result)
            return result

    return call_tool


def _tool_attributes(name: str) -> dict[str, str]:
    return {
        "mcp.method.name": TOOLS_CALL,
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": name,
    }


def _adopting_otel_span(original: Callable[..., Any]) -> Callable[..., Any]:
    """The SDK's span helper, except that a ``tools/call`` request adopts our tool span."""

    @contextmanager
    def otel_span(name: str, *, kind: trace_api.SpanKind, **kwargs: Any) -> Iterator[Any]:
        span = _adoptable.get()
        attributes = kwargs.get("attributes") or {}
        if (
            span is None
            or kind is not trace_api.SpanKind.CLIENT
            or attributes.get("mcp.method.name") != TOOLS_CALL
        ):
            with original(name, kind=kind, **kwargs) as own:
                yield own
            return
        _adoptable.set(None)  # only the tool call's own request; call_tool resets it
        span.set_attributes(attributes)
        yield span

    return otel_span


def _inject_with_scope(meta: dict[str, Any]) -> None:
    """The SDK's ``_meta`` injection, plus the session and user of ``genai_trace.context()``."""
    inject(meta)


def _extract_with_scope(server_otel: Any) -> Callable[[Mapping[str, Any] | None], Any]:
    original = server_otel.extract_trace_context

    def extract_trace_context(meta: Mapping[str, Any] | None) -> Any:
        context = original(meta)
        if context is None or not meta:
            return context
        try:
            return scope_from_baggage(W3CBaggagePropagator().extract(dict(meta), context))
        except Exception:
            log_internal_error("mcp server baggage")
            return context

    return extract_trace_context


def _traced_middleware(original: Callable[..., Any]) -> Callable[..., Any]:
    """The SDK's OTel middleware, recording a tool call's arguments and result on its span."""

    async def __call__(self: Any, ctx: Any, call_next: Callable[..., Any]) -> Any:
        if getattr(ctx, "method", None) != TOOLS_CALL:
            return await original(self, ctx, call_next)

        async def recorded(inner: Any) -> Any:
            span = GenAISpan(trace_api.get_current_span())
            params = getattr(inner, "params", None) or {}
            span.set_inputs(params.get("arguments") or {})
            result = await call_next(inner)
            _record_result(span, result)
            return result

        return await original(self, ctx, recorded)

    return __call__


def _record_result(span: GenAISpan, result: Any) -> None:
    """A ``CallToolResult`` as it travels (camelCase keys); an error result marks the span."""
    try:
        dump = getattr(result, "model_dump", None)
        wire = dump(mode="json", by_alias=True, exclude_none=True) if callable(dump) else result
        span.set_outputs(wire)
        if isinstance(wire, Mapping) and wire.get("isError") is True:
            span.set_status("ERROR", "the tool returned an error result")
    except Exception:
        log_internal_error("mcp tool result")


__all__ = ["MCPInstrumentor"]
