"""Module-level controls: configure, flush, shutdown, enable/disable, trace look-ups."""

from __future__ import annotations

import datetime
import os
import signal
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from genai_trace._runtime import state as _runtime
from genai_trace._runtime import switch as _switch
from genai_trace._runtime.config import Config
from genai_trace._runtime.deferred import plain
from genai_trace._semantics.model import Trace, TraceInfo
from genai_trace._semantics.semconv import SpanType

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from genai_trace.exporters._base import TraceExporter
    from genai_trace.store.writer import SQLiteTraceStore

_LOOKUP_FLUSH_TIMEOUT_S = 5.0


def configure(
    *,
    service_name: str | None = None,
    project_name: str | None = None,
    exporters: Sequence[TraceExporter] | None = None,
    tracer_provider: TracerProvider | None = None,
    **settings: Any,
) -> Config:
    """Configure genai-trace; optional, since the first span configures from the environment.

    Every setting also has an environment variable (see the README's table); an argument
    here beats the variable, which beats the default. Calling it again replaces the
    configuration (pending traces of the old one are flushed first).

    Args:
        service_name: ``service.name`` of the provider genai-trace creates when the app has none.
        project_name: Project for backends that group by it (Phoenix).
        exporters: Where complete traces go, replacing the defaults.
        tracer_provider: An SDK ``TracerProvider`` to use instead of the global one.
        **settings: Any other field of :class:`genai_trace.Config`, for example
            ``max_payload_chars=20_000``, ``trace_timeout_s=60``, ``disabled=True``.

    Returns:
        The configuration in force.

    Raises:
        TypeError: an unknown setting or a value of the wrong type.
        ValueError: a value out of range.

    Example:
        >>> genai_trace.configure(service_name="support-bot", max_payload_chars=20_000)
    """
    explicit: dict[str, Any] = dict(settings)
    for key, value in (
        ("service_name", service_name),
        ("project_name", project_name),
        ("exporters", exporters),
        ("tracer_provider", tracer_provider),
    ):
        if value is not None:
            explicit[key] = value
    return _runtime.configure(**explicit)


def flush(timeout_s: float | None = None) -> bool:
    """Export every trace completed so far; ``False`` if ``timeout_s`` ran out first."""
    rt = _runtime.current()
    return True if rt is None else rt.flush(timeout_s)


def shutdown(timeout_s: float | None = None) -> None:
    """Flush (within ``timeout_s``) and stop exporting; idempotent, also run at exit.

    Traces still open are exported marked incomplete. Spans after this are not recorded
    until :func:`configure` is called again.
    """
    _runtime.shutdown(timeout_s)


def flush_on_exit_signals(
    signals: Iterable[int] = (signal.SIGTERM,), *, timeout_s: float | None = None
) -> None:
    """Export completed traces when the process is told to stop, then stop as it would have.

    A SIGTERM ends a process without running ``atexit``, so traces completed but not yet
    exported would be lost. This installs a handler for each signal that first flushes
    (within ``timeout_s``, default ``exit_flush_timeout_s``) and then hands the signal on:
    to the handler installed before it (a framework's graceful shutdown), or, where that
    was the default action, raises the signal again so the process ends as it would have,
    with the same exit status. Calling it again changes nothing. Call it from the main
    thread, after any framework has installed its own handlers.

    Args:
        signals: The signals to handle; SIGTERM by default.
        timeout_s: How long the flush may take; ``None`` uses ``exit_flush_timeout_s``.

    Raises:
        ValueError: not called from the main thread (a rule of Python's ``signal``), or a
            negative ``timeout_s``.

    Example:
        >>> genai_trace.flush_on_exit_signals()  # in a worker that is stopped with SIGTERM
    """
    if timeout_s is not None and not timeout_s >= 0:
        raise ValueError(f"timeout_s must be seconds, at least 0, got {timeout_s!r}")
    if threading.current_thread() is not threading.main_thread():
        raise ValueError(
            "flush_on_exit_signals() must be called from the main thread "
            "(Python only lets the main thread install signal handlers)"
        )
    for signum in signals:
        previous = signal.getsignal(signum)
        if getattr(previous, "_genai_trace_flush", False):
            continue
        signal.signal(signum, _runtime.flushing_signal_handler(previous, timeout_s))


def disable() -> None:
    """Stop recording: traced functions run as if undecorated (``GENAI_TRACE_DISABLED=1``)."""
    _runtime.set_disabled(True)


def enable() -> None:
    """Record again after :func:`disable`."""
    _runtime.set_disabled(False)


def is_enabled() -> bool:
    """Whether spans are being recorded."""
    return not _switch.disabled


def get_last_trace_id() -> str | None:
    """The id of the last GenAI trace that completed in this process, or ``None``.

    Example:
        >>> answer("hi")
        >>> trace = genai_trace.get_trace(genai_trace.get_last_trace_id())
    """
    rt = _runtime.current()
    return None if rt is None else rt.assembler.last_trace_id


def get_trace(trace_id: str) -> Trace | None:
    """Return a trace by trace id (32 hex) or client request id, else ``None``.

    Looks in the bounded buffer of recent traces (``recent_traces``), then in the local
    store (after writing what is queued for it, bounded). It never waits for another
    destination (a slow OTLP backend cannot make a look-up slow). A process that has not
    traced reads the configured store (``GENAI_TRACE_DB``, or the default path) directly.
    """
    if not isinstance(trace_id, str):
        raise TypeError(f"get_trace() takes a trace id string, got {trace_id!r}")
    rt = _runtime.current()
    if rt is not None:
        found = rt.pipeline.recent.get(trace_id)
        if found is not None:
            return plain(found)  # built now, on this thread, if no exporter read it yet
    store = _store_to_read(None)
    return store.get(trace_id) if store.path.exists() else None


def _store_to_read(db_path: str | os.PathLike[str] | None) -> SQLiteTraceStore:
    """The store a look-up reads; what is queued for this process's store is written first.

    Reading never sets up tracing: without a runtime, the configured path is opened as is.
    """
    from genai_trace.store.writer import SQLiteTraceStore

    rt = _runtime.current()
    if rt is not None:
        _flush_local_stores(rt)
    if db_path is not None:
        return SQLiteTraceStore(db_path)
    if rt is not None:
        for destination in rt.pipeline.destinations:
            if isinstance(destination.exporter, SQLiteTraceStore):
                return destination.exporter
    return SQLiteTraceStore(_runtime.config_for_reading().db_path)


def _flush_local_stores(rt: _runtime.Runtime) -> None:
    """Write what completed to the local stores, bounded.

    Only the stores: a look-up must not wait for a slow or hanging network destination.
    """
    from genai_trace.store.writer import SQLiteTraceStore

    for destination in rt.pipeline.destinations:
        if isinstance(destination.exporter, SQLiteTraceStore):
            destination.flush(_LOOKUP_FLUSH_TIMEOUT_S)


def search_traces(
    *,
    start_time: datetime.datetime | float | None = None,
    end_time: datetime.datetime | float | None = None,
    state: str | None = None,
    name: str | None = None,
    span_type: SpanType | str | None = None,
    tags: Mapping[str, str | None] | Iterable[str] | None = None,
    session_id: str | None = None,
    user_id: str | None = None,
    text: str | None = None,
    order_by: str = "start_time",
    descending: bool = True,
    limit: int = 100,
    db_path: str | os.PathLike[str] | None = None,
) -> list[TraceInfo]:
    """Search the local trace store; returns trace facts, newest first by default.

    Pending traces are flushed first, so a trace that just completed is found. Use
    :func:`get_trace` with a result's ``trace_id`` for its spans.

    Args:
        start_time: Traces that started at or after this (a datetime or epoch seconds).
        end_time: Traces that started before this.
        state: ``OK``, ``ERROR`` or ``IN_PROGRESS``.
        name: The root span's name.
        span_type: Traces holding at least one span of this type.
        tags: ``{"key": "value"}`` pairs (a value of ``None``, or a bare string in a list,
            matches any value of the key); all must match.
        session_id: The session.
        user_id: The user.
        text: Case-insensitive substring of the request or response preview.
        order_by: ``start_time``, ``duration``, ``tokens`` or ``name``.
        descending: Largest (newest) first.
        limit: At most this many results.
        db_path: Another store than the configured one.

    Raises:
        TraceStoreError: the store is missing, corrupt or not a trace store.
        ValueError: an unknown ``order_by`` or a bad value.

    Example:
        >>> for info in genai_trace.search_traces(state="ERROR", span_type="LLM", limit=10):
        ...     print(info.trace_id, info.request_preview)
    """
    from genai_trace.store.reader import TraceQuery

    store = _store_to_read(db_path)
    if isinstance(tags, Mapping):
        tag_filter: dict[str, str | None] | None = dict(tags)
    else:
        tag_filter = {str(tag): None for tag in tags} if tags is not None else None
    query = TraceQuery(
        start_time_ns=_to_ns(start_time),
        end_time_ns=_to_ns(end_time),
        state=state,
        name=name,
        span_type=None if span_type is None else str(span_type),
        tags=tag_filter,
        session_id=session_id,
        user_id=user_id,
        text=text,
        order_by=order_by,
        descending=descending,
        limit=limit,
    )
    return store.search(query)


def _to_ns(moment: datetime.datetime | float | None) -> int | None:
    if moment is None:
        return None
    if isinstance(moment, datetime.datetime):
        return int(moment.timestamp() * 1e9)
    if isinstance(moment, (int, float)) and not isinstance(moment, bool):
        return int(moment * 1e9)
    raise TypeError(f"expected a datetime or epoch seconds, got {moment!r}")


def stats() -> dict[str, Any]:
    """Counters since the last ``configure``: traces completed, skipped, dropped, incomplete.

    ``destinations`` has, per exporter, the traces ``exported``, ``failed`` (the exporter
    gave up, after its own retries) and ``dropped`` (its queue was full, or shutdown ran out
    of time). Nothing is dropped without being counted here.
    """
    rt = _runtime.current()
    if rt is None:
        return {}
    pipeline = rt.pipeline
    return {
        "traces_in_assembly": rt.assembler.open_trace_count(),
        "traces_completed": pipeline.completed,
        "traces_skipped_without_genai_span": pipeline.skipped_non_genai,
        **rt.assembler_counts(),
        "destinations": {
            d.name: {"exported": d.exported, "failed": d.failed, "dropped": d.dropped}
            for d in pipeline.destinations
        },
    }
