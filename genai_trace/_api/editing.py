"""Editing traces after the fact: tags set or removed, whole traces deleted, in the local store.

The edits write the local SQLite store only. A trace this process just finished may still
be queued for the store: what is queued is written first (as a look-up does), so an edit
right after the traced call finds its trace. The buffer of recent traces forgets an edited
trace, so ``get_trace`` reads the edit back from the store. Traces already sent to another
destination (an OTLP backend) are not changed there: the first edit of a process that
exports over OTLP says so in the log, once.

Layer: ``_api``; imports ``_runtime``, the reading API and ``store``.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping

from genai_trace._api.reading import store_to_read, trace_query
from genai_trace._runtime import state as _runtime
from genai_trace._semantics.semconv import SpanType

logger = logging.getLogger("genai_trace")
_said_local_only = threading.Event()


def set_trace_tag(
    trace_id: str, key: str, value: str, *, db_path: str | os.PathLike[str] | None = None
) -> None:
    """Set tag ``key`` of a stored trace to ``value`` (a tag of that key is replaced).

    ``trace_id`` is the trace id (32 hex) or its client request id. The edit is made in
    the local store only; a backend the trace was sent to keeps the tags it got.

    Raises:
        TraceNotStoredError: the store holds no such trace.
        TraceStoreError: the store is missing, locked, or not a trace store.
        TypeError: a key or value that is not a string.

    Example:
        >>> genai_trace.set_trace_tag(trace_id, "reviewed", "yes")
    """
    from genai_trace.store.editing import set_tag

    _check_text("trace_id", trace_id)
    _check_text("key", key, empty_ok=False)
    _check_text("value", value)
    store = store_to_read(db_path)
    stored_id = set_tag(store.path, trace_id, key, value, store.busy_timeout_s)
    _after_edit([stored_id, trace_id])


def delete_trace_tag(
    trace_id: str, key: str, *, db_path: str | os.PathLike[str] | None = None
) -> bool:
    """Remove tag ``key`` from a stored trace; returns whether the trace had it.

    ``trace_id`` is the trace id (32 hex) or its client request id; local store only.

    Raises:
        TraceNotStoredError: the store holds no such trace.
        TraceStoreError: the store is missing, locked, or not a trace store.

    Example:
        >>> genai_trace.delete_trace_tag(trace_id, "reviewed")
        True
    """
    from genai_trace.store.editing import delete_tag

    _check_text("trace_id", trace_id)
    _check_text("key", key, empty_ok=False)
    store = store_to_read(db_path)
    had = delete_tag(store.path, trace_id, key, store.busy_timeout_s)
    _after_edit([trace_id])
    return had


def delete_traces(
    trace_ids: Iterable[str] | None = None,
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
    db_path: str | os.PathLike[str] | None = None,
) -> int:
    """Delete whole traces (spans, tags and every other row of theirs) from the local store.

    Name the traces (trace ids or client request ids), or give filters that
    :func:`~genai_trace.search_traces` takes; not both, and not neither (deleting
    everything is deleting the store's file). Ids not stored are skipped.

    Returns:
        How many traces were deleted.

    Raises:
        ValueError: both ids and filters, or neither.
        TraceStoreError: the store is missing, locked, or not a trace store.

    Example:
        >>> genai_trace.delete_traces([trace_id])
        1
        >>> genai_trace.delete_traces(tags={"env": "test"}, end_time=yesterday)
    """
    from genai_trace.store.editing import delete_traces as delete

    filters = {
        "start_time": start_time,
        "end_time": end_time,
        "state": state,
        "name": name,
        "span_type": span_type,
        "tags": tags,
        "session_id": session_id,
        "user_id": user_id,
        "text": text,
    }
    given = [key for key, value in filters.items() if value is not None]
    if isinstance(trace_ids, str):
        trace_ids = [trace_ids]
    ids = None if trace_ids is None else [str(_check_text("trace id", i)) for i in trace_ids]
    if (ids is None) == (not given):
        raise ValueError(
            "delete_traces() takes trace ids or filters (one of the two), got "
            + (f"both (ids and {', '.join(given)})" if given else "neither")
        )
    query = trace_query(**filters) if given else None  # type: ignore[arg-type]
    store = store_to_read(db_path)
    deleted = delete(store.path, ids, query, store.busy_timeout_s)
    _after_edit([*deleted, *(ids or [])])
    return len(deleted)


def _check_text(what: str, value: object, empty_ok: bool = True) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {value!r}")
    if not empty_ok and not value:
        raise ValueError(f"{what} must not be empty")
    return value


def _after_edit(trace_ids: list[str]) -> None:
    """Forget the edited traces' buffered copies; say once if OTLP backends keep the old."""
    rt = _runtime.current()
    if rt is None:
        return
    for trace_id in trace_ids:
        rt.pipeline.recent.forget(trace_id)
    otlp = sys.modules.get("genai_trace.exporters.otlp")  # not loaded: no OTLP destination
    if otlp is None or _said_local_only.is_set():
        return
    endpoints = [
        d.exporter.endpoint
        for d in rt.pipeline.destinations
        if isinstance(d.exporter, otlp.OTLPTraceExporter)
    ]
    if endpoints:
        _said_local_only.set()
        logger.warning(
            "genai_trace: trace edits and deletions change the local store only; the traces "
            "already sent to %s keep their tags and stay there",
            ", ".join(str(e) for e in endpoints),
        )
