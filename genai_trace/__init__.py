"""genai-trace: tracing for GenAI applications on top of OpenTelemetry.

Example:
    >>> import genai_trace
    >>> from genai_trace import SpanType
    >>> @genai_trace.trace(span_type=SpanType.LLM)
    ... def complete(prompt: str) -> str:
    ...     return "Hello!"

This module only re-exports: the public names live in private modules (the calls in
``_api``, the data model in ``_semantics``, the errors in ``exceptions``), and ``__all__``
is the promise. Nothing inside the package imports it.
"""

from __future__ import annotations

from genai_trace._api.baggage import SessionBaggagePropagator
from genai_trace._api.client import TraceClient
from genai_trace._api.context import context
from genai_trace._api.decorator import trace
from genai_trace._api.editing import delete_trace_tag, delete_traces, set_trace_tag
from genai_trace._api.evaluate import EvaluationResult, evaluate, scorer
from genai_trace._api.feedback import get_feedback, log_expectation, log_feedback
from genai_trace._api.fluent import get_current_span, start_span, update_current_trace
from genai_trace._api.lifecycle import (
    configure,
    disable,
    enable,
    flush,
    flush_on_exit_signals,
    is_enabled,
    shutdown,
    stats,
)
from genai_trace._api.propagation import extract, inject, use_span
from genai_trace._api.reading import get_last_trace_id, get_trace, search_traces
from genai_trace._api.span import GenAISpan
from genai_trace._api.usage import usage
from genai_trace._runtime.config import Config
from genai_trace._semantics import semconv as _semconv
from genai_trace._semantics.feedback import Feedback, Source
from genai_trace._semantics.model import SpanEvent, SpanRecord, TokenUsage, Trace, TraceInfo
from genai_trace._semantics.results import TraceInfoList
from genai_trace._semantics.semconv import SpanType
from genai_trace.exceptions import (
    AlreadyEndedError,
    DuplicateTraceError,
    MalformedIdError,
    OpenSpansError,
    RootSpanError,
    SpanNotFoundError,
    TraceNotFoundError,
    TraceNotStoredError,
    TraceStoreError,
    TraceTimedOutError,
    TracingError,
    WrongTraceError,
)
from genai_trace.exporters._base import ExportResult, TraceExporter
from genai_trace.integrations import autolog

__version__ = _semconv.TRACER_VERSION
"""The installed version, read by ``importlib.metadata`` (pyproject's ``version``)."""

__all__ = [
    "AlreadyEndedError",
    "Config",
    "DuplicateTraceError",
    "EvaluationResult",
    "ExportResult",
    "Feedback",
    "GenAISpan",
    "MalformedIdError",
    "OpenSpansError",
    "RootSpanError",
    "SessionBaggagePropagator",
    "Source",
    "SpanEvent",
    "SpanNotFoundError",
    "SpanRecord",
    "SpanType",
    "TokenUsage",
    "Trace",
    "TraceClient",
    "TraceExporter",
    "TraceInfo",
    "TraceInfoList",
    "TraceNotFoundError",
    "TraceNotStoredError",
    "TraceStoreError",
    "TraceTimedOutError",
    "TracingError",
    "WrongTraceError",
    "__version__",
    "autolog",
    "configure",
    "context",
    "delete_trace_tag",
    "delete_traces",
    "disable",
    "enable",
    "evaluate",
    "extract",
    "flush",
    "flush_on_exit_signals",
    "get_current_span",
    "get_feedback",
    "get_last_trace_id",
    "get_trace",
    "inject",
    "is_enabled",
    "log_expectation",
    "log_feedback",
    "scorer",
    "search_traces",
    "set_trace_tag",
    "shutdown",
    "start_span",
    "stats",
    "trace",
    "update_current_trace",
    "usage",
    "use_span",
]
