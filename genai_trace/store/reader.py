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

import os
import sqlite3
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_trace._semantics.codec import loads
from genai_trace._semantics.facts import parents_first
from genai_trace._semantics.feedback import Feedback
from genai_trace._semantics.model import Trace, TraceInfo, info_from_dict, span_from_dict
from genai_trace.store.feedback import has_feedback_table, read_feedback, search_clauses
from genai_trace.store.schema import CONTAINS, DEFAULT_DB_PATH, open_for_reading

_ORDER_COLUMNS = {
    "start_time": "start_ns",
    "duration": "duration_ms",
    "tokens": "total_tokens",
    "name": "name",
}
ORDER_BY = tuple(_ORDER_COLUMNS)
"""What :attr:`TraceQuery.order_by` takes."""


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
        """Whether it filters on feedback (a store without the table matches nothing)."""
        return bool(self.feedback) or self.feedback_name is not None


@dataclass(frozen=True)
class Cursor:
    """Where a keyset page ends: the last row's start time and sequence."""

    start_ns: int
    seq: int

    def encode(self) -> str:
        """``"<start_ns>.<seq>"``: opaque to the page, given back as ``before``."""
        return f"{self.start_ns}.{self.seq}"


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

    def exists(self) -> bool:
        """Whether anything has been traced into the store yet."""
        return self.path.exists()

    def _reader(self) -> AbstractContextManager[sqlite3.Connection]:
        return open_for_reading(self.path, self.busy_timeout_s, self.choose_with)

    # --- trace facts and whole traces ----------------------------------------------------

    def search(self, query: TraceQuery | None = None) -> list[TraceInfo]:
        """Trace facts matching ``query``, newest first by default."""
        return [info for _, info in self.search_with_seq(query or TraceQuery())]

    def search_with_seq(self, query: TraceQuery) -> list[tuple[int, TraceInfo]]:
        """Like :meth:`search`, with each trace's insertion sequence (for ``tail``)."""
        sql, params = _select(query)
        with self._reader() as connection:
            if query.needs_feedback and not has_feedback_table(connection):
                return []
            rows = connection.execute(sql, params).fetchall()
        return [(seq, info_from_dict(loads(info))) for seq, info in rows]

    def query_plan(self, query: TraceQuery) -> list[str]:
        """SQLite's plan for ``query`` (to check a filter is served by an index)."""
        return self._plan(*_select(query))

    def count(self, query: TraceQuery | None = None) -> int:
        """How many traces match ``query`` (all traces when ``None``)."""
        query = query or TraceQuery()
        where, params = _where(query)
        with self._reader() as connection:
            if query.needs_feedback and not has_feedback_table(connection):
                return 0
            (count,) = connection.execute(f"SELECT count(*) FROM traces {where}", params).fetchone()
        return int(count)

    def get(self, trace_id: str) -> Trace | None:
        """The whole trace by trace id or client request id, ``None`` when not stored."""
        with self._reader() as connection:
            row = connection.execute(
                "SELECT trace_id, info FROM traces WHERE trace_id = ? OR client_request_id = ? "
                "ORDER BY trace_id = ? DESC LIMIT 1",
                (trace_id, trace_id, trace_id),
            ).fetchone()
            if row is None:
                return None
            trace = read_trace(connection, row[0], row[1])
            feedback = read_feedback(connection, [row[0]]).get(row[0], [])
        # Parts of a trace from several processes arrive in any order: parents first again.
        return Trace(
            info=trace.info,
            spans=tuple(parents_first(list(trace.spans))),
            feedback=tuple(feedback),
        )

    def get_feedback(self, trace_id: str) -> list[Feedback]:
        """The feedback of a trace (by trace id or client request id), oldest first."""
        with self._reader() as connection:
            rows = connection.execute(
                "SELECT trace_id FROM traces WHERE trace_id = ? OR client_request_id = ? "
                "ORDER BY trace_id = ? DESC LIMIT 1",
                (trace_id, trace_id, trace_id),
            ).fetchall()
            ids = [row[0] for row in rows] or [trace_id]
            return read_feedback(connection, ids).get(ids[0], [])

    def last_trace_id(self) -> str | None:
        """The id of the most recently stored trace."""
        with self._reader() as connection:
            row = connection.execute("SELECT trace_id FROM traces ORDER BY seq DESC LIMIT 1")
            found = row.fetchone()
        return None if found is None else str(found[0])

    def stats(self) -> dict[str, Any]:
        """Counts by state, span type and name, token totals, time range, file size."""
        with self._reader() as connection:
            by_state = dict(connection.execute("SELECT state, count(*) FROM traces GROUP BY state"))
            totals = connection.execute(
                "SELECT count(*), sum(total_tokens), min(start_ns), max(start_ns), "
                "avg(duration_ms), sum(span_count), sum(complete = 0) FROM traces"
            ).fetchone()
            by_type = dict(
                connection.execute("SELECT span_type, count(*) FROM spans GROUP BY span_type")
            )
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

    def page(self, query: TraceQuery, limit: int, before: Cursor | None) -> dict[str, Any]:
        """One page of traces, newest first, with the cursor of the next (older) page.

        ``total`` (how many traces match) is counted for the first page only.
        """
        if not self.exists():
            return {"traces": [], "next": None, "latest_seq": 0, "total": 0}
        sql, params = _page_query(query, limit + 1, before)
        with self._reader() as connection:
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
            traces = _with_errors(connection, [_row(seq, info) for seq, _, info in rows])
            _add_feedback(connection, traces)
        next_cursor = Cursor(rows[-1][1], rows[-1][0]).encode() if more else None
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
        sql = f"SELECT seq, info FROM traces {_joined(clauses)} ORDER BY seq ASC LIMIT ?"
        if not self.exists():
            return {"traces": [], "latest_seq": 0, "more": False}
        with self._reader() as connection:
            rows = connection.execute(sql, [*params, limit + 1]).fetchall()
            latest = _latest_seq(connection)
            traces = _with_errors(connection, [_row(seq, info) for seq, info in rows[:limit]])
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
        with self._reader() as connection:
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
        with self._reader() as connection:
            rows = connection.execute(
                "SELECT seq, info FROM traces WHERE session_id = ? "
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
            "traces": [_row(seq, info) for seq, info in rows[:limit]],
            "total": total,
            "truncated": len(rows) > limit,
        }

    def _plan(self, sql: str, params: list[Any]) -> list[str]:
        with self._reader() as connection:
            rows = connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return [str(row[-1]) for row in rows]


def read_trace(connection: sqlite3.Connection, trace_id: str, info: str) -> Trace:
    """The stored trace ``trace_id`` whose facts are ``info``, spans in the order written."""
    spans = connection.execute(
        "SELECT data FROM spans WHERE trace_id = ? ORDER BY rowid", (trace_id,)
    ).fetchall()
    return Trace(
        info=info_from_dict(loads(info)),
        spans=tuple(span_from_dict(loads(data)) for (data,) in spans),
    )


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
        f"SELECT seq, info FROM traces {where} "
        f"ORDER BY {nulls_last}{column} {direction}, seq {direction} LIMIT ? OFFSET ?"
    )
    return sql, [*params, query.limit, query.offset]


def _page_query(query: TraceQuery, limit: int, before: Cursor | None) -> tuple[str, list[Any]]:
    """A keyset page's SQL: newest first, after ``before`` (one text for page and plan)."""
    clauses, params = filter_clauses(query)
    if before is not None:
        clauses.append("(start_ns, seq) < (?, ?)")
        params.extend((before.start_ns, before.seq))
    sql = (
        f"SELECT seq, start_ns, info FROM traces {_joined(clauses)} "
        "ORDER BY start_ns DESC, seq DESC LIMIT ?"
    )
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
        ("trace_id IN (SELECT trace_id FROM spans WHERE span_type = ?)", query.span_type),
    ):
        if bound is not None:
            clauses.append(condition)
            params.append(bound)
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


def _row(seq: int, info: str) -> dict[str, Any]:
    data: dict[str, Any] = loads(info)
    data["seq"] = seq
    return data


def _with_errors(
    connection: sqlite3.Connection, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Give each failed row without a response its root span's error (the viewer shows it)."""
    failed = [r["trace_id"] for r in rows if r["state"] == "ERROR" and not r["response_preview"]]
    if not failed:
        return rows
    marks = ", ".join("?" * len(failed))
    spans = connection.execute(
        f"SELECT trace_id, data FROM spans WHERE trace_id IN ({marks}) AND parent_id IS NULL",
        failed,
    ).fetchall()
    messages = {trace_id: loads(data).get("status_message") for trace_id, data in spans}
    for row in rows:
        if messages.get(row["trace_id"]):
            row["error_message"] = messages[row["trace_id"]]
    return rows


def _add_feedback(connection: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    """Give each row that has feedback its feedback (the viewer's column and badge)."""
    found = read_feedback(connection, [row["trace_id"] for row in rows])
    for row in rows:
        if row["trace_id"] in found:
            row["feedback"] = [fb.to_dict() for fb in found[row["trace_id"]]]
