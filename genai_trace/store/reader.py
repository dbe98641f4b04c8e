"""The one query layer of the local store: filters, ordering, paging and whole traces.

``genai_trace.search_traces``/``get_trace``, the CLI and the viewer all read through
:class:`TraceReader` (the writer, :class:`~genai_trace.store.writer.SQLiteTraceStore`, is one
too). A filter is a :class:`TraceQuery`, turned into SQL in one place. Every read opens its
own read-only connection in one snapshot, so readers share nothing and never block the
writer. Two ways to page: ``limit``/``offset`` in any order (:meth:`TraceReader.search`), and
keyset pages newest first (:meth:`TraceReader.page`), served by the start-time indexes so a
page of a store of 100,000 traces reads only the rows it shows.

Layer: ``store``; imports ``_semantics`` (the model and the codec) and the schema.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from genai_trace._semantics.codec import loads
from genai_trace._semantics.facts import parents_first
from genai_trace._semantics.feedback import Feedback
from genai_trace._semantics.model import Trace, TraceInfo, info_from_dict, span_from_dict
from genai_trace.store.feedback import read_feedback, search_clauses
from genai_trace.store.payloads import FACTS_BY_DEFAULT, unpack_spans
from genai_trace.store.schema import CONTAINS, DEFAULT_DB_PATH, ReadConnections

_ORDER_COLUMNS = {
    "start_time": "start_ns",
    "duration": "duration_ms",
    "tokens": "total_tokens",
    "name": "name",
}
_IN_CHUNK = 900  # bound values per IN (...), under SQLite's oldest limit of 999
ORDER_BY = tuple(_ORDER_COLUMNS)
"""What :attr:`TraceQuery.order_by` takes."""


def parse_order_by(order_by: str, descending: bool = True) -> tuple[str, bool]:
    """``"duration ASC"``, ``"name"``... as ``(column name, descending)``.

    A direction in the text wins over ``descending``.

    Raises:
        ValueError: an unknown column or direction, with what is accepted.
    """
    words = order_by.split() if isinstance(order_by, str) else []
    direction = words[1].upper() if len(words) == 2 else None
    if (
        not 1 <= len(words) <= 2
        or words[0] not in _ORDER_COLUMNS
        or direction
        not in (
            None,
            "ASC",
            "DESC",
        )
    ):
        raise ValueError(
            f"order_by must be one of {', '.join(ORDER_BY)}, optionally followed by ASC or "
            f"DESC (e.g. 'duration DESC'), got {order_by!r}"
        )
    return words[0], descending if direction is None else direction == "DESC"


@dataclass(frozen=True)
class TraceQuery:
    """Filters for :meth:`TraceReader.search`; every field is optional.

    ``tags`` match key/value pairs (a value of ``None`` matches any value of the key).
    ``text`` is a case-insensitive substring of the request or response preview or the name,
    or a whole trace id.
    ``order_by`` is one of ``start_time``, ``duration``, ``tokens``, ``name``.
    Keyset pages (:meth:`TraceReader.page`, :meth:`TraceReader.changes`) use the filters
    only: they bring their own order and limit.
    """

    start_time_ns: int | None = None
    end_time_ns: int | None = None
    state: str | None = None
    name: str | None = None
    span_type: str | None = None
    tags: Mapping[str, str | None] | None = None
    session_id: str | None = None
    user_id: str | None = None
    text: str | None = None
    order_by: str = "start_time"
    descending: bool = True
    limit: int = 100
    offset: int = 0
    after_seq: int | None = None
    feedback: Mapping[str, Any] | None = None
    """``{"thumbs": False}``: traces with a feedback of that name and value (each pair)."""
    feedback_name: str | None = None
    """Traces with any feedback of this name."""

    @property
    def needs_feedback(self) -> bool:
        """Whether it filters on feedback."""
        return bool(self.feedback) or self.feedback_name is not None


@dataclass(frozen=True)
class Cursor:
    """Where a keyset page ends: the last row's start time and sequence."""

    start_ns: int
    seq: int

    def encode(self) -> str:
        """``"<start_ns>.<seq>"``: opaque to the page, given back as ``before``."""
        return f"{self.start_ns}.{self.seq}"


@dataclass(frozen=True)
class SortKey:
    """Where a keyset page in any order ends: the last row's sort value and sequence."""

    value: Any
    seq: int

    def encode(self) -> str:
        """Opaque text (URL-safe) for the page after this key; :meth:`decode` reads it."""
        raw = json.dumps([self.value, self.seq], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> SortKey:
        """The key whose :meth:`encode` is ``text``.

        Raises:
            ValueError: not the text of :meth:`encode`.
        """
        try:
            value, seq = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        except (ValueError, TypeError, binascii.Error):
            raise ValueError(f"not a page key: {text[:50]!r}") from None
        if not isinstance(seq, int) or not isinstance(value, (int, float, str, type(None))):
            raise ValueError(f"not a page key: {text[:50]!r}")
        return cls(value, seq)


class TraceReader:
    """Read-only access to the store at ``path``.

    Each method raises :class:`~genai_trace.store.schema.TraceStoreError` with a clear
    message when the file is missing, locked past ``busy_timeout_s``, corrupt or not a
    trace store.

    Example:
        >>> reader = TraceReader(".genai_trace/traces.db")
        >>> [info.name for info in reader.search(TraceQuery(state="ERROR", limit=10))]
    """

    choose_with = "db_path= or GENAI_TRACE_DB"
    """How a user names another store, for the error of a missing one (the CLI: ``--db``)."""

    def __init__(
        self, path: str | os.PathLike[str] = DEFAULT_DB_PATH, *, busy_timeout_s: float = 10.0
    ) -> None:
        if not isinstance(busy_timeout_s, (int, float)) or not 0 <= busy_timeout_s < 1e9:
            raise ValueError(f"busy_timeout_s must be seconds, at least 0, got {busy_timeout_s!r}")
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        """How long a read (or a write) waits for another process to release the file."""
        self._connections: ReadConnections | None = None

    def exists(self) -> bool:
        """Whether anything has been traced into the store yet."""
        return self.path.exists()

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read-only connection in one read transaction (one snapshot of the store).

        The connection is kept for the next read (see
        :class:`~genai_trace.store.schema.ReadConnections`). The store's other query
        modules (usage) read through it too, so that every read goes the same way.
        """
        connections = self._connections
        if connections is None or connections.timeout_s != self.busy_timeout_s:
            connections = ReadConnections(self.path, self.busy_timeout_s, self.choose_with)
            self._connections = connections
        return connections.snapshot()

    # --- trace facts and whole traces ----------------------------------------------------

    def search(self, query: TraceQuery | None = None) -> list[TraceInfo]:
        """Trace facts matching ``query``, newest first by default."""
        return [info for _, info in self.search_with_seq(query or TraceQuery())]

    def search_with_seq(self, query: TraceQuery) -> list[tuple[int, TraceInfo]]:
        """Like :meth:`search`, with each trace's insertion sequence (for ``tail``)."""
        sql, params = _select(query)
        with self.snapshot() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [(row[0], info_from_dict(_facts(row))) for row in rows]

    def search_after(
        self, query: TraceQuery, after: SortKey | None
    ) -> tuple[list[TraceInfo], SortKey | None]:
        """One keyset page in ``query``'s order, after ``after``; with the next page's key.

        Keyset, not offset: traces stored while a caller pages (newer, so placed before
        the key in the default order, or anywhere in another) neither repeat nor shift a
        row into the next page. ``query.offset`` is not used.
        """
        sql, params = _keyset_select(query, after)
        with self.snapshot() as connection:
            rows = connection.execute(sql, params).fetchall()
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        infos = [info_from_dict(_facts(row)) for row in rows]
        return infos, (SortKey(rows[-1][_SORT_VALUE], rows[-1][0]) if more else None)

    def query_plan(self, query: TraceQuery) -> list[str]:
        """SQLite's plan for ``query`` (to check a filter is served by an index)."""
        return self._plan(*_select(query))

    def count(self, query: TraceQuery | None = None) -> int:
        """How many traces match ``query`` (all traces when ``None``)."""
        query = query or TraceQuery()
        where, params = _where(query)
        with self.snapshot() as connection:
            (count,) = connection.execute(f"SELECT count(*) FROM traces {where}", params).fetchone()
        return int(count)

    def get(self, trace_id: str) -> Trace | None:
        """The whole trace by trace id or client request id, ``None`` when not stored."""
        with self.snapshot() as connection:
            row = connection.execute(
                f"SELECT {FACTS} FROM traces "
                "WHERE trace_id = ? OR client_request_id = ? ORDER BY trace_id = ? DESC LIMIT 1",
                (trace_id, trace_id, trace_id),
            ).fetchone()
            if row is None:
                return None
            trace = read_trace(connection, row)
            feedback = read_feedback(connection, [row[1]]).get(row[1], [])
        # Parts of a trace from several processes arrive in any order: parents first again.
        return Trace(
            info=trace.info,
            spans=tuple(parents_first(list(trace.spans))),
            feedback=tuple(feedback),
        )

    def get_feedback(self, trace_id: str) -> list[Feedback]:
        """The feedback of a trace (by trace id or client request id), oldest first."""
        with self.snapshot() as connection:
            rows = connection.execute(
                "SELECT trace_id FROM traces WHERE trace_id = ? OR client_request_id = ? "
                "ORDER BY trace_id = ? DESC LIMIT 1",
                (trace_id, trace_id, trace_id),
            ).fetchall()
            ids = [row[0] for row in rows] or [trace_id]
            return read_feedback(connection, ids).get(ids[0], [])

    def get_many(self, trace_ids: Sequence[str]) -> list[Trace]:
        """The stored traces among ``trace_ids`` (trace ids), in the order given, whole.

        One read transaction for them all (``get`` opens one per trace): what ``genai-trace
        send`` and ``export`` read per batch. Ids not stored are left out.
        """
        found: dict[str, Trace] = {}
        with self.snapshot() as connection:
            for start in range(0, len(trace_ids), _IN_CHUNK):
                chunk = list(trace_ids[start : start + _IN_CHUNK])
                marks = ",".join("?" * len(chunk))
                for row in connection.execute(
                    f"SELECT {FACTS} FROM traces WHERE trace_id IN ({marks})", chunk
                ).fetchall():
                    trace = read_trace(connection, row)
                    found[row[1]] = Trace(
                        info=trace.info, spans=tuple(parents_first(list(trace.spans)))
                    )
        return [found[trace_id] for trace_id in trace_ids if trace_id in found]

    def last_trace_id(self) -> str | None:
        """The id of the most recently stored trace."""
        with self.snapshot() as connection:
            row = connection.execute("SELECT trace_id FROM traces ORDER BY seq DESC LIMIT 1")
            found = row.fetchone()
        return None if found is None else str(found[0])

    def stats(self) -> dict[str, Any]:
        """Counts by state, span type and name, token totals, time range, file size."""
        with self.snapshot() as connection:
            by_state = dict(connection.execute("SELECT state, count(*) FROM traces GROUP BY state"))
            totals = connection.execute(
                "SELECT count(*), sum(total_tokens), min(start_ns), max(start_ns), "
                "avg(duration_ms), sum(span_count), sum(complete = 0) FROM traces"
            ).fetchone()
            by_type = dict(connection.execute(_SPANS_BY_TYPE))
            top_names = connection.execute(
                "SELECT name, count(*) AS n FROM traces GROUP BY name ORDER BY n DESC LIMIT 10"
            ).fetchall()
        return {
            "traces": totals[0],
            "spans": totals[5] or 0,
            "incomplete": totals[6] or 0,
            "total_tokens": totals[1] or 0,
            "first_start_ns": totals[2],
            "last_start_ns": totals[3],
            "mean_duration_ms": totals[4],
            "by_state": by_state,
            "by_span_type": by_type,
            "top_names": [list(pair) for pair in top_names],
            "file_bytes": self.path.stat().st_size,
        }

    # --- keyset pages, changes and sessions, as plain data (the viewer's API) ------------
    #
    # A row is the stored facts of a trace (``TraceInfo`` as plain data) plus its ``seq``.
    # A store not created yet reads as empty: the viewer starts before the first trace.

    def page(
        self, query: TraceQuery, limit: int, before: Cursor | SortKey | None
    ) -> dict[str, Any]:
        """One page of traces, newest first, with the cursor of the next (older) page.

        In another order than newest first (``query.order_by``, ``query.descending``), the
        page follows it, and its cursor is a :class:`SortKey`'s text.
        ``total`` (how many traces match) is counted for the first page only.
        """
        if not self.exists():
            return {"traces": [], "next": None, "latest_seq": 0, "total": 0}
        if is_newest_first(query):
            sql, params = _page_query(query, limit + 1, _as_cursor(before))
            cursor: type[Cursor | SortKey] = Cursor
        else:
            sql, params = _keyset_select(replace(query, limit=limit), _as_sort_key(before))
            cursor = SortKey
        with self.snapshot() as connection:
            rows = connection.execute(sql, params).fetchall()
            latest = _latest_seq(connection)
            total = None
            if before is None:
                where, where_params = _where(query)
                (total,) = connection.execute(
                    f"SELECT count(*) FROM traces {where}", where_params
                ).fetchone()
            more = len(rows) > limit
            rows = rows[:limit]
            traces = _with_errors(connection, [_row(row) for row in rows])
            _add_feedback(connection, traces)
        next_cursor = _next_key(cursor, rows[-1]).encode() if more else None
        return {
            "traces": traces,
            "next": next_cursor,
            "latest_seq": latest,
            "total": total,
        }

    def page_plan(self, query: TraceQuery, limit: int, before: Cursor | None) -> list[str]:
        """SQLite's query plan for :meth:`page` (to check a page is served by an index)."""
        return self._plan(*_page_query(query, limit, before))

    def changes(self, query: TraceQuery, after_seq: int, limit: int) -> dict[str, Any]:
        """Traces stored after ``after_seq`` that match ``query``, oldest first."""
        clauses, params = filter_clauses(query)
        clauses.append("seq > ?")
        params.append(after_seq)
        sql = f"SELECT {FACTS} FROM traces {_joined(clauses)} ORDER BY seq ASC LIMIT ?"
        if not self.exists():
            return {"traces": [], "latest_seq": 0, "more": False}
        with self.snapshot() as connection:
            rows = connection.execute(sql, [*params, limit + 1]).fetchall()
            latest = _latest_seq(connection)
            traces = _with_errors(connection, [_row(row) for row in rows[:limit]])
            _add_feedback(connection, traces)
        return {
            "traces": traces,
            "latest_seq": latest,
            "more": len(rows) > limit,
        }

    def sessions(self, limit: int, user_id: str | None) -> dict[str, Any]:
        """The most recently active sessions, with their counts and token totals."""
        where = "WHERE session_id IS NOT NULL" + (" AND user_id = ?" if user_id else "")
        sql = (
            "SELECT session_id, count(*), min(start_ns), max(start_ns), sum(total_tokens), "
            "sum(state = 'ERROR'), json_group_array(DISTINCT user_id) "
            f"FROM traces {where} GROUP BY session_id ORDER BY max(start_ns) DESC LIMIT ?"
        )
        params: list[Any] = [user_id] if user_id else []
        if not self.exists():
            return {"sessions": []}
        with self.snapshot() as connection:
            rows = connection.execute(sql, [*params, limit]).fetchall()
        return {
            "sessions": [
                {
                    "session_id": row[0],
                    "traces": row[1],
                    "first_start_ns": row[2],
                    "last_start_ns": row[3],
                    "total_tokens": row[4] or 0,
                    "errors": row[5] or 0,
                    # A session may have several users: each of them, not one chosen.
                    "user_ids": sorted(u for u in loads(row[6]) if u is not None),
                }
                for row in rows
            ]
        }

    def session(self, session_id: str, limit: int) -> dict[str, Any] | None:
        """The traces of one session in start order (the conversation); ``None`` if unknown."""
        if not self.exists():
            return None
        with self.snapshot() as connection:
            rows = connection.execute(
                f"SELECT {FACTS} FROM traces WHERE session_id = ? "
                "ORDER BY start_ns ASC, seq ASC LIMIT ?",
                (session_id, limit + 1),
            ).fetchall()
            if not rows:
                return None
            (total,) = connection.execute(
                "SELECT count(*) FROM traces WHERE session_id = ?", (session_id,)
            ).fetchone()
        return {
            "session_id": session_id,
            "traces": [_row(row) for row in rows[:limit]],
            "total": total,
            "truncated": len(rows) > limit,
        }

    def _plan(self, sql: str, params: list[Any]) -> list[str]:
        with self.snapshot() as connection:
            rows = connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return [str(row[-1]) for row in rows]


FACTS = (
    "seq, trace_id, client_request_id, name, state, start_ns, end_ns, duration_ms, "
    "request_preview, response_preview, session_id, user_id, span_count, complete, info"
)
"""The columns of a trace's stored facts, as :func:`read_trace` and the pages read them."""


def read_trace(connection: sqlite3.Connection, row: Sequence[Any]) -> Trace:
    """The stored trace of ``row`` (the :data:`FACTS` of a ``traces`` row).

    Spans come in the order written.
    """
    seq, trace_id = row[0], row[1]
    return Trace(
        info=info_from_dict(_facts(row)),
        spans=tuple(
            span_from_dict(span)
            for span in _span_dicts(connection, seq, trace_id, (row[8], row[9]))
        ),
    )


def _facts(row: Sequence[Any]) -> dict[str, Any]:
    """A trace's facts as plain data (``info_to_dict``'s shape) from its :data:`FACTS`.

    The ``info`` column holds what has no column of its own (tags, metadata, token usage,
    why a trace is incomplete); rows of schema version 1 hold every fact there, the same
    values as their columns.
    """
    facts = {
        "trace_id": row[1],
        "client_request_id": row[2],
        "name": row[3],
        "state": row[4],
        "start_time_ns": row[5],
        "end_time_ns": row[6],
        "duration_ms": row[7],
        "request_preview": row[8],
        "response_preview": row[9],
        "session_id": row[10],
        "user_id": row[11],
        "span_count": row[12],
        "complete": bool(row[13]),
        **FACTS_BY_DEFAULT,
    }
    facts.update(loads(row[14]))
    return facts


def _span_dicts(
    connection: sqlite3.Connection, seq: int, trace_id: str, previews: Sequence[str | None]
) -> list[dict[str, Any]]:
    """The spans of one trace as plain data.

    ``previews``: the trace's request and response previews, as its row holds them.
    """
    packed = connection.execute(
        "SELECT spans, data FROM trace_spans LEFT JOIN dictionaries ON id = dictionary "
        "WHERE seq = ?",
        (seq,),
    ).fetchone()
    return [] if packed is None else unpack_spans(packed[0], trace_id, previews, packed[1])


_SPANS_BY_TYPE = "SELECT span_type, sum(spans) FROM span_types GROUP BY span_type"


# --- SQL ---------------------------------------------------------------------------------


def _select(query: TraceQuery) -> tuple[str, list[Any]]:
    where, params = _where(query)
    column = _ORDER_COLUMNS.get(query.order_by)
    if column is None:
        raise ValueError(f"order_by must be one of {', '.join(ORDER_BY)}, got {query.order_by!r}")
    direction = "DESC" if query.descending else "ASC"
    # Nullable columns sort their NULLs last; start_ns and name are never NULL, and a plain
    # ORDER BY on them is served by their index instead of a sort of every row.
    nulls_last = f"{column} IS NULL, " if column in ("duration_ms", "total_tokens") else ""
    sql = (
        f"SELECT {FACTS} FROM traces {where} "
        f"ORDER BY {nulls_last}{column} {direction}, seq {direction} LIMIT ? OFFSET ?"
    )
    return sql, [*params, query.limit, query.offset]


def is_newest_first(query: TraceQuery) -> bool:
    """Whether ``query`` is in the default order (the one served by :class:`Cursor` pages)."""
    return query.order_by == "start_time" and query.descending


def _as_cursor(before: Cursor | SortKey | None) -> Cursor | None:
    if isinstance(before, SortKey):
        raise ValueError("a newest-first page takes a Cursor, not a SortKey")
    return before


def _as_sort_key(before: Cursor | SortKey | None) -> SortKey | None:
    if isinstance(before, Cursor):
        raise ValueError("a page in another order takes a SortKey, not a Cursor")
    return before


def _keyset_select(query: TraceQuery, after: SortKey | None) -> tuple[str, list[Any]]:
    """:func:`_select`'s order, from after ``after`` on (``limit + 1`` rows: is there more?)."""
    column = _ORDER_COLUMNS.get(query.order_by)
    if column is None:
        raise ValueError(f"order_by must be one of {', '.join(ORDER_BY)}, got {query.order_by!r}")
    clauses, params = filter_clauses(query)
    beyond = "<" if query.descending else ">"
    nullable = column in ("duration_ms", "total_tokens")
    if after is not None and after.value is None:  # in the tail of NULLs, sorted last
        clauses.append(f"{column} IS NULL AND seq {beyond} ?")
        params.append(after.seq)
    elif after is not None:
        null_tail = f" OR {column} IS NULL" if nullable else ""
        clauses.append(f"(({column}, seq) {beyond} (?, ?){null_tail})")
        params.extend((after.value, after.seq))
    direction = "DESC" if query.descending else "ASC"
    nulls_last = f"{column} IS NULL, " if nullable else ""
    sql = (
        f"SELECT {FACTS}, {column} FROM traces {_joined(clauses)} "
        f"ORDER BY {nulls_last}{column} {direction}, seq {direction} LIMIT ?"
    )
    return sql, [*params, query.limit + 1]


_SORT_VALUE = FACTS.count(",") + 1
"""Where :func:`_keyset_select` puts a row's sort value: after its :data:`FACTS`."""


def _next_key(key: type[Cursor | SortKey], row: Sequence[Any]) -> Cursor | SortKey:
    """The key of the page after ``row``, the last row of a page."""
    if key is Cursor:
        return Cursor(row[5], row[0])
    return SortKey(row[_SORT_VALUE], row[0])


def _page_query(query: TraceQuery, limit: int, before: Cursor | None) -> tuple[str, list[Any]]:
    """A keyset page's SQL: newest first, after ``before`` (one text for page and plan)."""
    clauses, params = filter_clauses(query)
    if before is not None:
        clauses.append("(start_ns, seq) < (?, ?)")
        params.extend((before.start_ns, before.seq))
    sql = f"SELECT {FACTS} FROM traces {_joined(clauses)} ORDER BY start_ns DESC, seq DESC LIMIT ?"
    return sql, [*params, limit]


def _where(query: TraceQuery) -> tuple[str, list[Any]]:
    clauses, params = filter_clauses(query)
    return _joined(clauses), params


def _joined(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def filter_clauses(query: TraceQuery) -> tuple[list[str], list[Any]]:
    """The SQL conditions of ``query`` (to be joined with AND) and their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in (
        ("state", query.state),
        ("name", query.name),
        ("session_id", query.session_id),
        ("user_id", query.user_id),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    for condition, bound in (
        ("start_ns >= ?", query.start_time_ns),
        ("start_ns < ?", query.end_time_ns),
        ("seq > ?", query.after_seq),
    ):
        if bound is not None:
            clauses.append(condition)
            params.append(bound)
    if query.span_type is not None:
        # Per row, by the (span_type, seq) key: a page stops at its limit, where an IN list
        # would first collect every trace of a common type.
        clauses.append(
            "EXISTS (SELECT 1 FROM span_types WHERE span_type = ? AND span_types.seq = traces.seq)"
        )
        params.append(query.span_type)
    for key, value in (query.tags or {}).items():
        if value is None:
            clauses.append("trace_id IN (SELECT trace_id FROM trace_tags WHERE key = ?)")
            params.append(key)
        else:
            clauses.append(
                "trace_id IN (SELECT trace_id FROM trace_tags WHERE key = ? AND value = ?)"
            )
            params.extend((key, value))
    if query.needs_feedback:
        more, more_params = search_clauses(query.feedback, query.feedback_name)
        clauses.extend(more)
        params.extend(more_params)
    if query.text:
        # SQLite's LIKE folds ASCII only; the function folds Unicode (see the schema).
        clauses.append(f"({CONTAINS}(?, request_preview, response_preview, name) OR trace_id = ?)")
        params.extend((query.text.casefold(), query.text.lower()))
    return clauses, params


def _latest_seq(connection: sqlite3.Connection) -> int:
    (latest,) = connection.execute("SELECT coalesce(max(seq), 0) FROM traces").fetchone()
    return int(latest)


def _row(row: Sequence[Any]) -> dict[str, Any]:
    data = _facts(row)
    data["seq"] = row[0]
    return data


def _with_errors(
    connection: sqlite3.Connection, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Give each failed row without a response its root span's error (the viewer shows it)."""
    for row in rows:
        if row["state"] == "ERROR" and not row["response_preview"]:
            previews = (row["request_preview"], row["response_preview"])
            spans = _span_dicts(connection, row["seq"], row["trace_id"], previews)
            root = next((span for span in spans if span.get("parent_id") is None), None)
            if root is not None and root.get("status_message"):
                row["error_message"] = root["status_message"]
    return rows


def _add_feedback(connection: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    """Give each row that has feedback its feedback (the viewer's column and badge)."""
    found = read_feedback(connection, [row["trace_id"] for row in rows])
    for row in rows:
        if row["trace_id"] in found:
            row["feedback"] = [fb.to_dict() for fb in found[row["trace_id"]]]
