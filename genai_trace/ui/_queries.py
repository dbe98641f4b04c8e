"""Read-only queries of the local store for the viewer: keyset pages, changes, sessions.

Every call opens its own read-only connection (``mode=ro``, ``query_only``), so the viewer
can never write the store and the server's threads share nothing. Pages are keyset pages on
``(start_ns, seq)``, newest first, served by the start-time indexes: a page of a store of
100,000 traces reads only the rows it shows.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from genai_trace._semantics.codec import loads, trace_to_dict
from genai_trace.store.sqlite import (
    SQLiteTraceStore,
    TraceQuery,
    TraceStoreError,
    add_search_functions,
    filter_clauses,
)

_BUSY_TIMEOUT_S = 5.0


class StoreUnavailableError(Exception):
    """The store exists but cannot be read now (locked, corrupt, not a trace store)."""


@dataclass(frozen=True)
class Filters:
    """What the Traces page filters on; ``None`` (or empty) means no filter."""

    state: str | None = None
    name: str | None = None
    span_type: str | None = None
    tags: tuple[tuple[str, str | None], ...] = ()
    session_id: str | None = None
    user_id: str | None = None
    text: str | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        """SQL conditions (joined with AND by the caller) and their parameters."""
        return filter_clauses(
            TraceQuery(
                state=self.state,
                name=self.name,
                span_type=self.span_type,
                tags=dict(self.tags),
                session_id=self.session_id,
                user_id=self.user_id,
                text=self.text,
            )
        )


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's start time and sequence (keyset paging)."""

    start_ns: int
    seq: int

    def encode(self) -> str:
        """``"<start_ns>.<seq>"``: opaque to the page, given back as ``before``."""
        return f"{self.start_ns}.{self.seq}"


@dataclass
class StoreReader:
    """Read-only access to the store at ``path`` (which may not exist yet)."""

    path: Path
    _store: SQLiteTraceStore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._store = SQLiteTraceStore(self.path)

    def exists(self) -> bool:
        """Whether anything has been traced into the store yet."""
        return self.path.exists()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection | None]:
        """A read-only connection in one read transaction; ``None`` when there is no store."""
        if not self.path.exists():
            yield None
            return
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            connection = sqlite3.connect(
                uri, uri=True, timeout=_BUSY_TIMEOUT_S, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreUnavailableError(f"cannot open the trace store {self.path}: {exc}") from exc
        try:
            add_search_functions(connection)
            connection.execute("PRAGMA query_only = 1")
            connection.execute("BEGIN")  # one snapshot for every statement of the request
            yield connection
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailableError(
                f"cannot read the trace store {self.path} ({exc}); "
                "is it a genai-trace store, and not locked or corrupt?"
            ) from exc
        finally:
            connection.close()

    def page(self, filters: Filters, limit: int, before: Cursor | None) -> dict[str, Any]:
        """One page of traces, newest first, with the cursor of the next (older) page.

        ``total`` (how many traces match) is counted for the first page only.
        """
        sql, params = _page_query(filters, limit + 1, before)
        with self._connect() as connection:
            if connection is None:
                return {"traces": [], "next": None, "latest_seq": 0, "total": 0}
            rows = connection.execute(sql, params).fetchall()
            latest = _latest_seq(connection)
            total = None
            if before is None:
                where_clauses, where_params = filters.where()
                (total,) = connection.execute(
                    f"SELECT count(*) FROM traces {_where(where_clauses)}", where_params
                ).fetchone()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = Cursor(rows[-1][1], rows[-1][0]).encode() if more else None
        return {
            "traces": [_row(seq, info) for seq, _, info in rows],
            "next": next_cursor,
            "latest_seq": latest,
            "total": total,
        }

    def plan(self, filters: Filters, limit: int, before: Cursor | None) -> list[str]:
        """SQLite's query plan for :meth:`page` (to check a page is served by an index)."""
        sql, params = _page_query(filters, limit, before)
        with self._connect() as connection:
            if connection is None:
                return []
            return [str(row[-1]) for row in connection.execute("EXPLAIN QUERY PLAN " + sql, params)]

    def changes(self, filters: Filters, after_seq: int, limit: int) -> dict[str, Any]:
        """Traces stored after ``after_seq`` that match ``filters``, oldest first."""
        clauses, params = filters.where()
        clauses.append("seq > ?")
        params.append(after_seq)
        sql = f"SELECT seq, info FROM traces {_where(clauses)} ORDER BY seq ASC LIMIT ?"
        with self._connect() as connection:
            if connection is None:
                return {"traces": [], "latest_seq": 0, "more": False}
            rows = connection.execute(sql, [*params, limit + 1]).fetchall()
            latest = _latest_seq(connection)
        return {
            "traces": [_row(seq, info) for seq, info in rows[:limit]],
            "latest_seq": latest,
            "more": len(rows) > limit,
        }

    def sessions(self, limit: int, user_id: str | None) -> dict[str, Any]:
        """The most recently active sessions, with their counts and token totals."""
        where = "WHERE session_id IS NOT NULL" + (" AND user_id = ?" if user_id else "")
        sql = (
            "SELECT session_id, count(*), min(start_ns), max(start_ns), sum(total_tokens), "
            "sum(state = 'ERROR'), max(user_id) "
            f"FROM traces {where} GROUP BY session_id ORDER BY max(start_ns) DESC LIMIT ?"
        )
        params: list[Any] = [user_id] if user_id else []
        with self._connect() as connection:
            if connection is None:
                return {"sessions": []}
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
                    "user_id": row[6],
                }
                for row in rows
            ]
        }

    def session(self, session_id: str, limit: int) -> dict[str, Any] | None:
        """The traces of one session in start order (the conversation); ``None`` if unknown."""
        with self._connect() as connection:
            if connection is None:
                return None
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

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """The whole trace (by trace id or client request id); ``None`` when not stored."""
        if not self.path.exists():
            return None
        try:
            trace = self._store.get(trace_id)
        except TraceStoreError as exc:
            raise StoreUnavailableError(str(exc)) from exc
        return None if trace is None else trace_to_dict(trace)

    def stats(self) -> dict[str, Any]:
        """Counts by state, span type and name, token totals, time range, file size."""
        if not self.path.exists():
            return {"traces": 0, "spans": 0, "by_state": {}, "top_names": [], "store": None}
        try:
            data = self._store.stats()
        except (TraceStoreError, OSError) as exc:
            raise StoreUnavailableError(str(exc)) from exc
        return data


def _where(clauses: Sequence[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


def _latest_seq(connection: sqlite3.Connection) -> int:
    (latest,) = connection.execute("SELECT coalesce(max(seq), 0) FROM traces").fetchone()
    return int(latest)


def _row(seq: int, info: str) -> dict[str, Any]:
    data: dict[str, Any] = loads(info)
    data["seq"] = seq
    return data


def _page_query(filters: Filters, limit: int, before: Cursor | None) -> tuple[str, list[Any]]:
    """A page's SQL: newest first, keyset-paged after ``before`` (one text for page and plan)."""
    clauses, params = filters.where()
    if before is not None:
        clauses.append("(start_ns, seq) < (?, ?)")
        params.extend((before.start_ns, before.seq))
    sql = (
        f"SELECT seq, start_ns, info FROM traces {_where(clauses)} "
        "ORDER BY start_ns DESC, seq DESC LIMIT ?"
    )
    return sql, [*params, limit]
