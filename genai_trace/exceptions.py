"""Every exception genai-trace raises to its users, in one place.

Tracing never raises into the traced app: the decorator, ``start_span``, ``GenAISpan`` and
the context managers log what goes wrong and let the app's code run on. Only explicit APIs
raise, for misuse that the caller must fix: :class:`~genai_trace.TraceClient` (ids and
states), and reading traces back (a store that cannot be read). Invalid arguments raise the
builtin ``TypeError``/``ValueError``, and a missing optional extra the builtin
``ImportError`` that names the ``pip install`` command.

Hierarchy::

    TracingError                  misuse of an explicit API
    ├── MalformedIdError          (also a ValueError) an id is not W3C-shaped
    ├── TraceNotFoundError        (also a LookupError) the client never started that trace
    ├── SpanNotFoundError         (also a LookupError) no such span in the trace
    ├── AlreadyEndedError         the span or trace already ended
    │   └── TraceTimedOutError    exported incomplete (timeout, reconfiguration) before its end
    ├── WrongTraceError           the span belongs to another open trace
    ├── DuplicateTraceError       start_trace(trace_id=...) of a trace already open
    ├── OpenSpansError            end_trace while spans of the trace are open
    ├── RootSpanError             end_span on a root (a root ends with end_trace)
    ├── TraceNotStoredError       (also a LookupError) no such trace in the local store
    └── TraceStoreError           the local store is missing, corrupt, locked or not a store

Layer: the bottom of the package; it imports nothing from genai-trace, so every layer may
raise these.
"""

from __future__ import annotations

__all__ = [
    "AlreadyEndedError",
    "DuplicateTraceError",
    "MalformedIdError",
    "OpenSpansError",
    "RootSpanError",
    "SpanNotFoundError",
    "TraceNotFoundError",
    "TraceNotStoredError",
    "TraceStoreError",
    "TraceTimedOutError",
    "TracingError",
    "WrongTraceError",
]


class TracingError(Exception):
    """Base class of the errors genai-trace raises for misuse of an explicit API.

    Example:
        >>> try:
        ...     client.end_trace(trace_id=trace_id)
        ... except genai_trace.TracingError as exc:
        ...     log.warning("trace not ended: %s", exc)
    """


# --- TraceClient ----------------------------------------------------------------------------


class MalformedIdError(TracingError, ValueError):
    """An id is not W3C-shaped: 32 hex digits for a trace, 16 for a span, not all zeros.

    Example: ``client.start_trace("job", trace_id="not-hex")``
    """


class TraceNotFoundError(TracingError, LookupError):
    """The trace was never started by this client (or ended long ago, see FINISHED_MEMORY).

    Example: ``client.end_trace(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")``
    """


class SpanNotFoundError(TracingError, LookupError):
    """The span (or parent) id is no span of that trace, nor of any other open one.

    Example: ``client.end_span(trace_id=root.trace_id, span_id="00f067aa0ba902b7")``
    """


class AlreadyEndedError(TracingError):
    """The span or trace already ended: ending it twice, or using a trace after its end.

    Example: ``client.end_trace(trace_id=t); client.end_trace(trace_id=t)``
    """


class TraceTimedOutError(AlreadyEndedError):
    """The trace was exported marked incomplete before its end, and the client forgot it.

    It was open longer than ``trace_timeout_s``, or genai-trace was reconfigured or shut
    down while it was open.

    Example: ``root = client.start_trace("job"); time.sleep(timeout); client.end_trace(...)``
    """


class WrongTraceError(TracingError):
    """The span (or parent) id belongs to another open trace than the ``trace_id`` given.

    Example: ``client.start_span("step", trace_id=a.trace_id, parent_id=b.span_id)``
    """


class DuplicateTraceError(TracingError):
    """``start_trace(trace_id=...)`` named a trace that is already open in this client.

    Example: ``client.start_trace("a", trace_id=t); client.start_trace("b", trace_id=t)``
    """


class OpenSpansError(TracingError):
    """``end_trace`` found spans of the trace that the client started still open.

    End them first, or pass ``end_open_spans=True`` to end them with status ERROR and the
    description ``ENDED_BY_END_TRACE``.

    Example: ``client.start_span("step", ...); client.end_trace(trace_id=root.trace_id)``
    """


class RootSpanError(TracingError):
    """``end_span`` named a trace's root span; a root ends with ``end_trace``.

    Example: ``client.end_span(trace_id=root.trace_id, span_id=root.span_id)``
    """


# --- reading and editing traces back ------------------------------------------------------


class TraceNotStoredError(TracingError, LookupError):
    """``set_trace_tag`` or ``delete_trace_tag`` named a trace that the local store lacks.

    A trace this process just finished is written first, so only a wrong id, a trace sent
    elsewhere (not to the local store), or one deleted or pruned since, gets this.

    Example: ``genai_trace.set_trace_tag("4bf92f3577b34da6a3ce929d0e0e4736", "k", "v")``
    """


class TraceStoreError(TracingError):
    """The store cannot be opened or read: missing, corrupt, locked, or not a trace store.

    Raised by ``search_traces``, ``get_trace`` and the reads of ``SQLiteTraceStore``; the
    message names the path. Writing never raises it: an exporter returns a result instead.

    Example: ``genai_trace.search_traces(db_path="missing.db")``
    """
