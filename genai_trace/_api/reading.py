"""Reading traces back: the last trace id, one trace by id, a search of the local store.

A look-up answers from the buffer of recent traces first, then from the local SQLite store,
after writing what is queued for it (bounded; it never waits for a network destination).
Reading never sets up tracing: a process that has not traced opens the configured store.

The store module is imported when a look-up runs, not at ``import genai_trace``: an app that
never reads its traces back does not load ``sqlite3`` for it.

Layer: ``_api``; imports ``_runtime``, ``_semantics`` and ``store``.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from genai_trace._runtime import state as _runtime
from genai_trace._semantics.model import Trace
from genai_trace._semantics.results import TraceInfoList
from genai_trace._semantics.semconv import SpanType

if TYPE_CHECKING:
    from genai_trace.store.reader import SortKey, TraceQuery
    from genai_trace.store.writer import SQLiteTraceStore

_LOOKUP_FLUSH_TIMEOUT_S = 5.0


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
            # built now, on this thread, if no exporter read it yet
            return _with_stored_feedback(rt, found.built())
    store = store_to_read(None)
    return store.get(trace_id) if store.path.exists() else None


def _with_stored_feedback(rt: _runtime.Runtime, trace: Trace) -> Trace:
    """A recent trace with the feedback its store holds (the buffer keeps it as exported).

    Only once feedback was logged in this process: a look-up stays in memory otherwise.
    """
    if not rt.pipeline.feedback_submitted:
        return trace
    store = store_to_read(None)
    if not store.path.exists():
        return trace
    return dataclasses.replace(trace, feedback=tuple(store.get_feedback(trace.info.trace_id)))


def store_to_read(db_path: str | os.PathLike[str] | None) -> SQLiteTraceStore:
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
    feedback: Mapping[str, Any] | None = None,
    feedback_name: str | None = None,
    order_by: str = "start_time",
    descending: bool = True,
    limit: int = 100,
    page_token: str | None = None,
    db_path: str | os.PathLike[str] | None = None,
) -> TraceInfoList:
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
        feedback: ``{"thumbs": False}``: traces with a feedback of that name and value
            (every pair must match; see :func:`genai_trace.log_feedback`).
        feedback_name: Traces with any feedback of this name.
        order_by: ``start_time``, ``duration``, ``tokens`` or ``name``, optionally followed
            by ``ASC`` or ``DESC`` (``"duration DESC"``); a direction there wins over
            ``descending``. Ties go by the order traces were stored in.
        descending: Largest (newest) first.
        limit: At most this many results (one page).
        page_token: The ``next_page_token`` of the previous page, to read the next one;
            give the same filters and order. Traces stored while you page never repeat
            a row (keyset paging).
        db_path: Another store than the configured one.

    Returns:
        A :class:`TraceInfoList`: a list of :class:`TraceInfo` with ``next_page_token`` and
        ``to_pandas()`` (a table; needs ``pip install "genai-trace[pandas]"``).

    Raises:
        TraceStoreError: the store is missing, corrupt or not a trace store.
        ValueError: an unknown ``order_by``, a page token of another search, a bad value.

    Example:
        >>> for info in genai_trace.search_traces(state="ERROR", span_type="LLM", limit=10):
        ...     print(info.trace_id, info.request_preview)
    """
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise ValueError(f"limit must be a whole number of at least 1, got {limit!r}")
    query = trace_query(
        start_time=start_time,
        end_time=end_time,
        state=state,
        name=name,
        span_type=span_type,
        tags=tags,
        session_id=session_id,
        user_id=user_id,
        text=text,
        feedback=feedback,
        feedback_name=feedback_name,
        order_by=order_by,
        descending=descending,
        limit=limit,
    )
    after = None if page_token is None else _read_page_token(page_token, query)
    store = store_to_read(db_path)
    infos, next_key = store.search_after(query, after)
    next_token = None if next_key is None else _page_token(query, next_key)
    return TraceInfoList(infos, next_token)


def trace_query(
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
    feedback: Mapping[str, Any] | None = None,
    feedback_name: str | None = None,
    order_by: str = "start_time",
    descending: bool = True,
    limit: int = 100,
) -> TraceQuery:
    """The store's query for the filters ``search_traces`` (and ``delete_traces``) take."""
    from genai_trace.store.reader import TraceQuery, parse_order_by

    if isinstance(tags, Mapping):
        tag_filter: dict[str, str | None] | None = dict(tags)
    else:
        tag_filter = {str(tag): None for tag in tags} if tags is not None else None
    column, descending = parse_order_by(order_by, descending)
    return TraceQuery(
        start_time_ns=_to_ns(start_time),
        end_time_ns=_to_ns(end_time),
        state=state,
        name=name,
        span_type=None if span_type is None else str(span_type),
        tags=tag_filter,
        session_id=session_id,
        user_id=user_id,
        text=text,
        feedback=None if feedback is None else dict(feedback),
        feedback_name=feedback_name,
        order_by=column,
        descending=descending,
        limit=limit,
    )


def _page_token(query: TraceQuery, key: SortKey) -> str:
    """Opaque to the caller: which search the page belongs to, and where it ended."""
    return f"{_search_id(query)}.{key.encode()}"


def _read_page_token(token: str, query: TraceQuery) -> SortKey:
    from genai_trace.store.reader import SortKey

    search, _, key = token.partition(".") if isinstance(token, str) else ("", "", "")
    try:
        after = SortKey.decode(key)
    except ValueError:
        raise ValueError(
            f"page_token {token!r} is not a next_page_token that search_traces returned"
        ) from None
    if search != _search_id(query):
        raise ValueError(
            "page_token belongs to another search: give the same filters and order_by as "
            "the search that returned it"
        )
    return after


def _search_id(query: TraceQuery) -> str:
    """The filters and order of ``query`` (not its limit), hashed short."""
    described = repr(
        (
            query.start_time_ns,
            query.end_time_ns,
            query.state,
            query.name,
            query.span_type,
            sorted((query.tags or {}).items()),
            query.session_id,
            query.user_id,
            query.text,
            sorted((query.feedback or {}).items()),
            query.feedback_name,
            query.order_by,
            query.descending,
        )
    )
    return hashlib.sha256(described.encode()).hexdigest()[:12]


def _to_ns(moment: datetime.datetime | float | None) -> int | None:
    if moment is None:
        return None
    if isinstance(moment, datetime.datetime):
        return int(moment.timestamp() * 1e9)
    if isinstance(moment, (int, float)) and not isinstance(moment, bool):
        return int(moment * 1e9)
    raise TypeError(f"expected a datetime or epoch seconds, got {moment!r}")
