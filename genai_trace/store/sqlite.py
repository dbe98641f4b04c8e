"""The local trace store: one SQLite file, the zero-config default destination.

WAL mode, so readers (the CLI, another process) never block the writer; one transaction per
exported batch, so a crash loses at most the batch being written. Indexed by start time,
state, name, session, user, tag and span type, and read through :meth:`SQLiteTraceStore.search`
(``genai_trace.search_traces``) and :meth:`SQLiteTraceStore.get`.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genai_trace._errors import ThrottledWarning, log_internal_error
from genai_trace._runtime.builder import merge_parts, parents_first
from genai_trace._semantics.capture import clean_text
from genai_trace._semantics.codec import (
    dumps,
    info_from_dict,
    info_to_dict,
    loads,
    span_from_dict,
    span_to_dict,
)
from genai_trace._semantics.model import Trace, TraceInfo
from genai_trace.exceptions import TraceStoreError as TraceStoreError  # its home; re-exported
from genai_trace.exporters._base import ExportResult

DEFAULT_DB_PATH = os.path.join(".genai_trace", "traces.db")

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    trace_id TEXT NOT NULL UNIQUE,
    client_request_id TEXT,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    end_ns INTEGER,
    duration_ms REAL,
    request_preview TEXT,
    response_preview TEXT,
    session_id TEXT,
    user_id TEXT,
    total_tokens INTEGER,
    span_count INTEGER NOT NULL,
    complete INTEGER NOT NULL,
    info TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_start ON traces (start_ns);
CREATE INDEX IF NOT EXISTS traces_state ON traces (state, start_ns);
CREATE INDEX IF NOT EXISTS traces_name ON traces (name, start_ns);
CREATE INDEX IF NOT EXISTS traces_session ON traces (session_id, start_ns);
CREATE INDEX IF NOT EXISTS traces_user ON traces (user_id, start_ns);
CREATE INDEX IF NOT EXISTS traces_request_id ON traces (client_request_id);
CREATE TABLE IF NOT EXISTS trace_tags (
    trace_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (trace_id, key)
);
CREATE INDEX IF NOT EXISTS trace_tags_key ON trace_tags (key, value);
CREATE TABLE IF NOT EXISTS spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_id TEXT,
    name TEXT NOT NULL,
    span_type TEXT NOT NULL,
    start_ns INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_type ON spans (span_type, trace_id);
"""

_ORDER_COLUMNS = {
    "start_time": "start_ns",
    "duration": "duration_ms",
    "tokens": "total_tokens",
    "name": "name",
}


@dataclass(frozen=True)
class TraceQuery:
    """Filters for :meth:`SQLiteTraceStore.search`; every field is optional.

    ``tags`` match key/value pairs (a value of ``None`` matches any value of the key).
    ``text`` is a case-insensitive substring of the request or response preview or the name,
    or a whole trace id.
    ``order_by`` is one of ``start_time``, ``duration``, ``tokens``, ``name``.
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


class SQLiteTraceStore:
    """Exporter and reader of the local trace store.

    As an exporter it creates the file (and its folder) on first write. As a reader it opens
    an existing store read-only and raises :class:`TraceStoreError` with a clear message when
    the file is missing, corrupt or not a trace store.

    Example:
        >>> store = SQLiteTraceStore(".genai_trace/traces.db")
        >>> [info.name for info in store.search(TraceQuery(state="ERROR", limit=10))]
    """

    reports_own_failures = True
    """It logs a failed write itself, naming the file and the cause (no generic warning)."""
    max_batch = 4096
    """Traces per transaction. Every transaction waits for the GIL a few times behind a busy
    app thread; large batches keep the store ahead of a tight loop."""

    def __init__(
        self, path: str | os.PathLike[str] = DEFAULT_DB_PATH, *, busy_timeout_s: float = 10.0
    ) -> None:
        if not isinstance(busy_timeout_s, (int, float)) or not 0 <= busy_timeout_s < 1e9:
            raise ValueError(f"busy_timeout_s must be seconds, at least 0, got {busy_timeout_s!r}")
        self.path = Path(path)
        self.busy_timeout_s = float(busy_timeout_s)
        """How long a write waits for another writer (another process) to release the file."""
        # Guards _writer: export runs on one destination thread, but shutdown may not.
        self._lock = threading.Lock()
        self._writer: sqlite3.Connection | None = None
        # Set by shutdown: a write waiting for a lock gives up at once.
        self._closing = threading.Event()
        self._write_failed = ThrottledWarning(
            "genai_trace: cannot write the trace store %s (%s): %d traces not stored since %s; "
            "see genai_trace.stats()"
        )
        self._trace_failed = ThrottledWarning(
            "genai_trace: the trace store %s refused trace %s (%s); the other traces of its "
            "batch are stored: %d traces not stored since %s; see genai_trace.stats()"
        )
        self._rejected = 0
        """Traces refused one by one since :meth:`take_rejected` (guarded by ``_lock``)."""
        _STORES.add(self)

    # --- exporter --------------------------------------------------------------------

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Write ``traces`` in one transaction; a store that cannot be written fails the batch.

        A file locked by another writer is waited for up to ``busy_timeout_s``; a corrupt,
        locked or unwritable file is reported (one warning per interval) and counted by the
        destination, never raised into the app. A trace the store refuses (a value SQLite
        cannot bind) costs only itself: the batch is written again trace by trace, and the
        refused one is logged and counted (:meth:`take_rejected`).
        """
        try:
            with self._lock:
                try:
                    self._write(traces)
                except Exception as exc:
                    if not _is_about_a_trace(exc):
                        raise
                    self._write_one_by_one(traces)
            return ExportResult.SUCCESS
        except (sqlite3.DatabaseError, OSError) as exc:
            self._write_failed.record(len(traces), self.path, _describe(exc))
            return ExportResult.FAILURE
        except Exception:
            log_internal_error("SQLiteTraceStore.export")
            return ExportResult.FAILURE

    def take_rejected(self) -> int:
        """Traces refused one by one (the rest of their batch stored) since the last call.

        The destination counts them as failed in ``genai_trace.stats()``.
        """
        with self._lock:
            rejected, self._rejected = self._rejected, 0
        return rejected

    def _write_one_by_one(self, traces: Sequence[Trace]) -> None:
        """Each trace in its own transaction; one the store refuses is dropped and counted.

        Text that SQLite cannot encode (a lone surrogate that got past capture, from another
        instrumentation) is stored with U+FFFD in its place rather than dropped.
        """
        for trace in traces:
            try:
                try:
                    self._write([trace])
                except UnicodeEncodeError:
                    self._write([trace], clean=True)
            except Exception as exc:
                if not _is_about_a_trace(exc):
                    raise
                self._rejected += 1
                self._trace_failed.record(
                    1, self.path, trace.info.trace_id, f"{type(exc).__name__}: {exc}"
                )

    def _write(self, traces: Sequence[Trace], clean: bool = False) -> None:
        """One transaction; retried while another connection holds the write lock."""
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                # Opening takes the write lock too (schema, WAL mode): inside the retry.
                connection = self._writer or self._open_writer()
                with connection:
                    _insert_batch(connection, traces, clean)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline or self._closing.is_set():
                    self._drop_writer()
                    raise
            except sqlite3.DatabaseError:
                self._drop_writer()  # reopened at the next batch: the file may be fixed
                raise
            self._closing.wait(_BUSY_POLL_S)

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def shutdown(self) -> None:
        """Close the writer connection (a write waiting for a lock gives up first)."""
        self._closing.set()
        if not self._lock.acquire(timeout=_SHUTDOWN_WAIT_S):
            return  # a write is still running; its connection closes with the process
        try:
            self._drop_writer()
        finally:
            self._lock.release()

    def reset_after_fork(self) -> None:
        """In a forked child: never touch the parent's connection; open one of its own."""
        # SQLite forbids using a connection across fork; closing it could release the
        # parent's locks. It is kept referenced, never used, never closed.
        _ABANDONED.append(self._writer)
        self._writer = None
        self._lock = threading.Lock()

    def _open_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A short busy timeout per statement; _write retries up to busy_timeout_s, so that
        # shutdown can stop a write that waits for another process.
        connection = sqlite3.connect(self.path, timeout=_BUSY_POLL_S, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            connection.close()
            raise
        self._closing.clear()
        self._writer = connection
        return connection

    # --- reader ----------------------------------------------------------------------

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        if not self.path.exists():
            raise TraceStoreError(
                f"no trace store at {self.path}: nothing has been traced there yet "
                "(choose another with --db or GENAI_TRACE_DB)"
            )
        try:
            connection = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, timeout=self.busy_timeout_s
            )
        except sqlite3.Error as exc:
            raise TraceStoreError(f"cannot open the trace store {self.path}: {exc}") from exc
        try:
            add_search_functions(connection)
            yield connection
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                raise TraceStoreError(
                    f"cannot read the trace store {self.path}: another process holds it "
                    f"locked ({exc}); try again when it is done"
                ) from exc
            raise TraceStoreError(
                f"cannot read the trace store {self.path} ({exc}); "
                "is it a genai-trace store, and not corrupt?"
            ) from exc
        finally:
            connection.close()

    def search(self, query: TraceQuery | None = None) -> list[TraceInfo]:
        """Trace facts matching ``query``, newest first by default."""
        return [info for _, info in self.search_with_seq(query or TraceQuery())]

    def search_with_seq(self, query: TraceQuery) -> list[tuple[int, TraceInfo]]:
        """Like :meth:`search`, with each trace's insertion sequence (for ``tail``)."""
        sql, params = _select(query)
        with self._reader() as connection:
            rows = connection.execute(sql, params).fetchall()
        return [(seq, info_from_dict(loads(info))) for seq, info in rows]

    def query_plan(self, query: TraceQuery) -> list[str]:
        """SQLite's plan for ``query`` (to check a filter is served by an index)."""
        sql, params = _select(query)
        with self._reader() as connection:
            rows = connection.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        return [str(row[-1]) for row in rows]

    def count(self, query: TraceQuery | None = None) -> int:
        """How many traces match ``query`` (all traces when ``None``)."""
        where, params = _where(query or TraceQuery())
        with self._reader() as connection:
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
            spans = connection.execute(
                "SELECT data FROM spans WHERE trace_id = ? ORDER BY rowid", (row[0],)
            ).fetchall()
        # Parts of a trace from several processes arrive in any order: parents first again.
        return Trace(
            info=info_from_dict(loads(row[1])),
            spans=tuple(parents_first([span_from_dict(loads(data)) for (data,) in spans])),
        )

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


_BUSY_POLL_S = 0.05
_SHUTDOWN_WAIT_S = 1.0
_STORES: weakref.WeakSet[SQLiteTraceStore] = weakref.WeakSet()
# Connections inherited by a forked child: referenced so garbage collection never closes them.
_ABANDONED: list[sqlite3.Connection | None] = []


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _is_about_a_trace(exc: BaseException) -> bool:
    """Whether a failed write is the fault of a value written, not of the file.

    The file's own trouble (locked, busy, full, read-only, corrupt, an I/O error) is an
    ``OperationalError``, a bare ``DatabaseError`` or an ``OSError``; a value SQLite cannot
    bind raises anything else (``UnicodeEncodeError``, ``OverflowError``, ``DataError``...).
    """
    if isinstance(exc, (sqlite3.OperationalError, OSError)):
        return False
    return type(exc) is not sqlite3.DatabaseError


def _describe(exc: BaseException) -> str:
    if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
        return f"{exc}: another process holds it locked"
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return f"{exc}: the file is corrupt or not a genai-trace store; move it away"
    return str(exc)


def _reset_after_fork() -> None:
    for store in list(_STORES):
        store.reset_after_fork()


def _select(query: TraceQuery) -> tuple[str, list[Any]]:
    where, params = _where(query)
    column = _ORDER_COLUMNS.get(query.order_by)
    if column is None:
        raise ValueError(
            f"order_by must be one of {', '.join(_ORDER_COLUMNS)}, got {query.order_by!r}"
        )
    direction = "DESC" if query.descending else "ASC"
    # Nullable columns sort their NULLs last; start_ns and name are never NULL, and a plain
    # ORDER BY on them is served by their index instead of a sort of every row.
    nulls_last = f"{column} IS NULL, " if column in ("duration_ms", "total_tokens") else ""
    sql = (
        f"SELECT seq, info FROM traces {where} "
        f"ORDER BY {nulls_last}{column} {direction}, seq {direction} LIMIT ? OFFSET ?"
    )
    return sql, [*params, query.limit, query.offset]


def _where(query: TraceQuery) -> tuple[str, list[Any]]:
    clauses, params = filter_clauses(query)
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


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
    if query.start_time_ns is not None:
        clauses.append("start_ns >= ?")
        params.append(query.start_time_ns)
    if query.end_time_ns is not None:
        clauses.append("start_ns < ?")
        params.append(query.end_time_ns)
    if query.after_seq is not None:
        clauses.append("seq > ?")
        params.append(query.after_seq)
    if query.span_type is not None:
        clauses.append("trace_id IN (SELECT trace_id FROM spans WHERE span_type = ?)")
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
    if query.text:
        # SQLite's LIKE folds ASCII only; the function folds Unicode (see add_search_functions).
        clauses.append(f"({_CONTAINS}(?, request_preview, response_preview, name) OR trace_id = ?)")
        params.extend((query.text.casefold(), query.text.lower()))
    return clauses, params


_CONTAINS = "genai_trace_contains"


def add_search_functions(connection: sqlite3.Connection) -> None:
    """Register what :func:`filter_clauses` calls on ``connection`` (every reader does).

    ``genai_trace_contains(needle, text...)``: whether any text, Unicode case-folded
    (``str.casefold``: "Über" holds "über", "STRASSE" holds "straße"), holds the folded
    needle. One call per row for all columns keeps the cost of Python near LIKE's.
    """
    connection.create_function(_CONTAINS, -1, _contains_folded, deterministic=True)


def _contains_folded(needle: str, *texts: str | None) -> bool:
    return any(text is not None and needle in text.casefold() for text in texts)


_TRACE_COLUMNS = (
    "trace_id, client_request_id, name, state, start_ns, end_ns, duration_ms, "
    "request_preview, response_preview, session_id, user_id, total_tokens, span_count, "
    "complete, info"
)
# A row already stored is another part of the trace: it was merged with this one before.
_TRACE_INSERT = (
    f"INSERT INTO traces ({_TRACE_COLUMNS}) VALUES {{}} ON CONFLICT (trace_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _TRACE_COLUMNS.split(", ")[1:])
)
_TAG_INSERT = "INSERT OR REPLACE INTO trace_tags (trace_id, key, value) VALUES {}"
_SPAN_INSERT = (
    "INSERT OR REPLACE INTO spans (trace_id, span_id, parent_id, name, span_type, start_ns, "
    "data) VALUES {}"
)
_MAX_VARIABLES = 30_000  # SQLite allows 32,766 bound values per statement since 3.32


def _insert_batch(
    connection: sqlite3.Connection, traces: Sequence[Trace], clean: bool = False
) -> None:
    """Write a batch with one multi-row statement per table, in one write transaction.

    Row by row, every statement releases and retakes the GIL, and behind a busy app thread
    each retake waits a switch interval: a store written that way falls behind a tight loop.
    A part of a trace already stored (written by another process, or an earlier part of
    this one, such as late spans) or earlier in the batch is merged into its row
    (:func:`~genai_trace._runtime.builder.merge_parts`). ``clean``: replace lone surrogates in
    every text written.
    """
    # The write lock first: another process must not store a part between our read of the
    # stored parts and our write of the merge.
    connection.execute("BEGIN IMMEDIATE")
    groups: dict[str, list[Trace]] = {}
    for trace in traces:
        groups.setdefault(trace.info.trace_id, []).append(trace)
    stored = _stored_parts(connection, list(groups))
    infos: list[dict[str, Any]] = []
    tag_rows: list[tuple[Any, ...]] = []
    span_rows: list[tuple[Any, ...]] = []
    for trace_id, parts in groups.items():
        prior = stored.get(trace_id)
        if prior is not None:
            parts = [prior, *parts]
        info = parts[0].info if len(parts) == 1 else merge_parts(parts).info
        infos.append(info_to_dict(info))
        tag_rows.extend((trace_id, k, v) for k, v in info.tags.items())
    for trace in traces:
        span_rows.extend(
            (
                span.trace_id,
                span.span_id,
                span.parent_id,
                span.name,
                span.span_type,
                span.start_time_ns,
                dumps(span_to_dict(span)),
            )
            for span in trace.spans
        )
    _insert_rows(connection, _TRACE_INSERT, [_trace_row(d) for d in infos], clean)
    _insert_rows(connection, _TAG_INSERT, tag_rows, clean)
    _insert_rows(connection, _SPAN_INSERT, span_rows, clean)


def _stored_parts(connection: sqlite3.Connection, ids: list[str]) -> dict[str, Trace]:
    """The traces among ``ids`` already stored, whole (their merged facts and all spans)."""
    found: dict[str, Trace] = {}
    for start in range(0, len(ids), 900):
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT trace_id, info FROM traces WHERE trace_id IN ({marks})"
        for trace_id, info in connection.execute(sql, chunk).fetchall():
            spans = connection.execute(
                "SELECT data FROM spans WHERE trace_id = ?", (trace_id,)
            ).fetchall()
            found[trace_id] = Trace(
                info=info_from_dict(loads(info)),
                spans=tuple(span_from_dict(loads(data)) for (data,) in spans),
            )
    return found


def _trace_row(info: dict[str, Any]) -> tuple[Any, ...]:
    usage = info.get("token_usage") or {}
    return (
        info["trace_id"],
        info.get("client_request_id"),
        info["name"],
        info["state"],
        info["start_time_ns"],
        info.get("end_time_ns"),
        info.get("duration_ms"),
        info.get("request_preview"),
        info.get("response_preview"),
        info.get("session_id"),
        info.get("user_id"),
        usage.get("total_tokens"),
        info["span_count"],
        1 if info.get("complete", True) else 0,
        dumps(info),
    )


def _insert_rows(
    connection: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], clean: bool = False
) -> None:
    if not rows:
        return
    if clean:
        rows = [tuple(clean_text(v) if isinstance(v, str) else v for v in row) for row in rows]
    width = len(rows[0])
    per_statement = max(1, _MAX_VARIABLES // width)
    row_marks = "(" + ",".join("?" * width) + ")"
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        values = [value for row in chunk for value in row]
        connection.execute(sql.format(",".join([row_marks] * len(chunk))), values)
