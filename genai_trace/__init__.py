"""genai-trace: tracing for GenAI applications on top of OpenTelemetry.

Example:
    >>> import genai_trace
    >>> from genai_trace import SpanType
    >>> @genai_trace.trace(span_type=SpanType.LLM)
    ... def complete(prompt: str) -> str:
    ...     return "Hello!"
"""

from __future__ import annotations

from genai_trace._api.baggage import SessionBaggagePropagator
from genai_trace._api.client import TraceClient
from genai_trace._api.client_checks import (
    AlreadyEndedError,
    DuplicateTraceError,
    MalformedIdError,
    OpenSpansError,
    RootSpanError,
    SpanNotFoundError,
    TraceNotFoundError,
    TraceTimedOutError,
    WrongTraceError,
)
from genai_trace._api.context import context
from genai_trace._api.control import (
    configure,
    disable,
    enable,
    flush,
    flush_on_exit_signals,
    get_last_trace_id,
    get_trace,
    is_enabled,
    search_traces,
    shutdown,
    stats,
)
from genai_trace._api.decorator import trace
from genai_trace._api.fluent import get_current_span, start_span, update_current_trace
from genai_trace._api.propagation import extract, inject, use_span
from genai_trace._api.span import GenAISpan
from genai_trace._errors import TracingError
from genai_trace._runtime.config import Config
from genai_trace._runtime.state import __version__
from genai_trace._semantics.model import SpanEvent, SpanRecord, TokenUsage, Trace, TraceInfo
from genai_trace._semantics.semconv import SpanType
from genai_trace.exporters._base import ExportResult, TraceExporter
from genai_trace.integrations import autolog

__all__ = [
    "AlreadyEndedError",
    "Config",
    "DuplicateTraceError",
    "ExportResult",
    "GenAISpan",
    "MalformedIdError",
    "OpenSpansError",
    "RootSpanError",
    "SessionBaggagePropagator",
    "SpanEvent",
    "SpanNotFoundError",
    "SpanRecord",
    "SpanType",
    "TokenUsage",
    "Trace",
    "TraceClient",
    "TraceExporter",
    "TraceInfo",
    "TraceNotFoundError",
    "TraceTimedOutError",
    "TracingError",
    "WrongTraceError",
    "__version__",
    "autolog",
    "configure",
    "context",
    "disable",
    "enable",
    "extract",
    "flush",
    "flush_on_exit_signals",
    "get_current_span",
    "get_last_trace_id",
    "get_trace",
    "inject",
    "is_enabled",
    "search_traces",
    "shutdown",
    "start_span",
    "stats",
    "trace",
    "update_current_trace",
    "use_span",
]
