"""The store's file: its default path, its tables, and how a connection to it is opened.

Both sides open the file here: :mod:`~genai_trace.store.writer` (WAL mode, so readers never
block it) and :mod:`~genai_trace.store.reader` (read-only, one snapshot per read). A problem
with the file reaches a reader as :class:`TraceStoreError`, with a message that says what to
do.

Layer: ``store``; imports ``_semantics``, :mod:`~genai_trace.store.payloads` and the
feedback table's definition.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from genai_trace._semantics.codec import loads
from genai_trace.exceptions import TraceStoreError as TraceStoreError  # its home; re-exported
from genai_trace.store.feedback import add_feedback_table
from genai_trace.store.payloads import pack_spans, span_type_counts, stored_facts, stored_span

DEFAULT_DB_PATH = os.path.join(".genai_trace", "traces.db")
"""Where traces land unless ``configure(db_path=...)``, ``--db`` or ``GENAI_TRACE_DB`` say."""

_SCHEMA_V1 = """
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


def _create_v1(connection: sqlite3.Connection) -> None:
    """Version 0 (an empty file) to 1: the tables of genai-trace 0.x, as first released."""
    _run_script(connection, _SCHEMA_V1)


_PACKED_SPANS = """
CREATE TABLE IF NOT EXISTS trace_spans (
    seq INTEGER PRIMARY KEY,
    dictionary INTEGER,
    spans BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS dictionaries (
    id INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS span_types (
    span_type TEXT NOT NULL,
    seq INTEGER NOT NULL,
    spans INTEGER NOT NULL,
    PRIMARY KEY (span_type, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS span_types_seq ON span_types (seq);
DROP INDEX IF EXISTS traces_session;
DROP INDEX IF EXISTS traces_user;
DROP INDEX IF EXISTS traces_request_id;
CREATE INDEX traces_session ON traces (session_id, start_ns) WHERE session_id IS NOT NULL;
CREATE INDEX traces_user ON traces (user_id, start_ns) WHERE user_id IS NOT NULL;
CREATE INDEX traces_request_id ON traces (client_request_id)
    WHERE client_request_id IS NOT NULL;
"""


def _add_packed_spans(connection: sqlite3.Connection) -> None:
    """Version 1 to 2: each trace's spans in one compressed row, keyed by ``seq``.

    ``trace_spans`` holds the spans (:mod:`~genai_trace.store.payloads`; ``dictionary``
    names the row of ``dictionaries`` they were compressed with), ``span_types`` the count
    of each span type, for the span-type filter and the statistics. A row per span, its
    trace id repeated in two indexes, cost five times the gzipped JSON of the same traces;
    the span rows of version 1 are packed here, and their table dropped. The ``info``
    column keeps only what has no column of its own. The indexes of session, user and
    client request id leave out the traces without one (most, in many apps).
    """
    _run_script(connection, _PACKED_SPANS)
    rows = connection.execute(
        "SELECT seq, trace_id, request_preview, response_preview, info FROM traces"
    )
    while batch := rows.fetchmany(500):
        _pack_version_1_rows(connection, batch)
    connection.execute("DROP TABLE spans")


def _pack_version_1_rows(connection: sqlite3.Connection, traces: list[tuple[Any, ...]]) -> None:
    ids = [trace_id for _, trace_id, *_ in traces]
    spans: dict[str, list[dict[str, Any]]] = {trace_id: [] for trace_id in ids}
    marks = ",".join("?" * len(ids))
    for trace_id, data in connection.execute(
        f"SELECT trace_id, data FROM spans WHERE trace_id IN ({marks}) ORDER BY rowid", ids
    ):
        spans[trace_id].append(loads(data))
    for seq, trace_id, request, response, info in traces:
        stored = [stored_span(span) for span in spans[trace_id]]
        packed = pack_spans(stored, (request, response), None)
        connection.execute(
            "INSERT INTO trace_spans (seq, dictionary, spans) VALUES (?, NULL, ?)",
            (seq, packed.spans),
        )
        connection.executemany(
            "INSERT INTO span_types (span_type, seq, spans) VALUES (?, ?, ?)",
            [(span_type, seq, count) for span_type, count in span_type_counts(stored)],
        )
        connection.execute(
            "UPDATE traces SET info = ? WHERE seq = ?", (stored_facts(loads(info)), seq)
        )


def _run_script(connection: sqlite3.Connection, script: str) -> None:
    # executescript would commit the migration's transaction.
    for statement in script.split(";"):
        if statement.strip():
            connection.execute(statement)


def _add_feedback(connection: sqlite3.Connection) -> None:
    """Version 2 to 3: the ``feedback`` table (see :mod:`~genai_trace.store.feedback`)."""
    add_feedback_table(connection)


_USAGE_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS usage_calls (
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        start_ns INTEGER NOT NULL,
        model TEXT,
        span_type TEXT NOT NULL,
        status TEXT NOT NULL,
        duration_ms REAL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cache_read_tokens INTEGER NOT NULL,
        cache_write_tokens INTEGER NOT NULL,
        reasoning_tokens INTEGER NOT NULL,
        cost_usd REAL,
        PRIMARY KEY (trace_id, span_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS usage_calls_start ON usage_calls (start_ns)",
    # Retention and pruning delete traces; their calls go with them, whoever deletes.
    """CREATE TRIGGER IF NOT EXISTS usage_calls_follow_traces AFTER DELETE ON traces
    BEGIN
        DELETE FROM usage_calls WHERE trace_id = old.trace_id;
    END""",
)


def _add_usage(connection: sqlite3.Connection) -> None:
    """Version 3 to 4: token usage by kind and cost, a ``usage_calls`` row per billed call.

    The spans that count in a trace's usage and cost (the rule of
    ``_semantics.facts.billed_spans``), so usage can be summed by model, and by session,
    user or tag through their traces; a trace's rows go when it is deleted. No column is
    added to ``traces``: a trace without LLM calls (most rows) costs no byte more. Traces
    stored before keep their totals in their facts; their calls are not recovered.
    """
    for statement in _USAGE_STATEMENTS:
        connection.execute(statement)


def _payloads_once(connection: sqlite3.Connection) -> None:
    """Version 4 to 5: a span's payloads may be stored once, in their attributes.

    No table changes: a packed span may now leave its inputs and outputs to the
    ``input.value``/``output.value`` attributes they were recorded as (``"io"``, see
    ``payloads``). A reader before version 5 would show such a span without them, so the
    version moves and it refuses the file instead. Spans stored before keep both copies.
    """


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _create_v1,
    _add_packed_spans,
    _add_feedback,
    _add_usage,
    _payloads_once,
)
"""``MIGRATIONS[n]`` takes a store from version ``n`` to ``n + 1``, inside the transaction
that :func:`open_for_writing` holds; it must not commit. A new table or column is a new
function appended here, never an edit of an old one: stores written by every release
must reach the newest version by the same steps."""
SCHEMA_VERSION = len(MIGRATIONS)
"""The version this release writes (``PRAGMA user_version``); a newer file is refused."""


def open_for_writing(path: Path, timeout_s: float) -> sqlite3.Connection:
    """A connection that writes ``path``, creating the file, its folder and its tables.

    ``timeout_s`` is the busy timeout of each statement. Only creating the tables (or
    upgrading the file) takes the write lock, and then fails like a write when another
    process holds it; a store already current is opened with reads alone, so processes that
    open it together (forked workers flushing at exit) do not queue for the lock twice.

    Raises:
        TraceStoreError: the file was written by a newer genai-trace (never written to).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=timeout_s, check_same_thread=False)
    try:
        connection.execute("PRAGMA synchronous=NORMAL")  # this connection's own setting
        if not _is_current(connection, path):
            connection.execute("PRAGMA journal_mode=WAL")
            migrate(connection, path)
    except BaseException:
        connection.close()
        raise
    return connection


def migrate(connection: sqlite3.Connection, path: Path) -> None:
    """Bring the store to :data:`SCHEMA_VERSION`, all steps in one write transaction.

    The version is read again once the write lock is held: of several processes opening an
    old store at once, the first migrates and the others find it current.
    """
    connection.execute("BEGIN IMMEDIATE")
    try:
        version = _checked_version(connection, path)
        for step in MIGRATIONS[version:]:
            step(connection)
        if version != SCHEMA_VERSION:
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _is_current(connection: sqlite3.Connection, path: Path) -> bool:
    """Whether the file already has this schema version in WAL mode (both kept in the file)."""
    (mode,) = connection.execute("PRAGMA journal_mode").fetchone()
    version = _checked_version(connection, path)
    return str(mode).lower() == "wal" and version == SCHEMA_VERSION


def _checked_version(connection: sqlite3.Connection, path: Path) -> int:
    """The file's schema version; a newer one than this release's raises."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version > SCHEMA_VERSION:
        raise TraceStoreError(
            f"the trace store {path} was written by a newer genai-trace (store version "
            f"{version}, this one knows up to {SCHEMA_VERSION}): upgrade genai-trace "
            "to read or write it"
        )
    return int(version)


class ReadConnections:
    """Read-only connections to the store at ``path``, kept between reads.

    Every read is one read transaction (one snapshot) on a connection opened ``mode=ro``
    with ``query_only``: a reader can never write the store. Opening a connection and
    parsing the store's schema costs about 200 µs, half of reading a trace: up to
    :attr:`KEEP` connections are kept for the next reads, from any thread. A kept one is
    used again only in the same process (SQLite connections must not cross a fork), on
    the same file (a store deleted and made again is another file), and at the same
    schema version (a writer may migrate the store meanwhile).

    ``choose_with``: how the caller's user names another store (the Python API's
    argument, or the CLI's flag), for the message of a missing one.
    """

    KEEP = 2

    def __init__(self, path: Path, timeout_s: float, choose_with: str) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self.choose_with = choose_with
        self._lock = threading.Lock()
        self._idle: list[tuple[tuple[int, int, int], int, sqlite3.Connection]] = []

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A connection in a read transaction, ended (and the connection kept) after.

        Raises:
            TraceStoreError: the file is missing, locked by another process for longer
                than ``timeout_s``, corrupt, not a trace store, or written by a newer
                genai-trace.
        """
        file = self._identity()
        kept = self._take(file)
        connection: sqlite3.Connection | None = None
        ended = False
        try:
            connection, version = kept if kept is not None else self._open()
            connection.execute("BEGIN")
            if _checked_version(connection, self.path) != version:
                # Migrated since it was opened (its stand-ins are stale), or meanwhile.
                connection.close()
                connection, version = self._open()
                connection.execute("BEGIN")
                if _checked_version(connection, self.path) != version:
                    raise sqlite3.OperationalError("database is locked: being migrated")
            yield connection
            connection.execute("ROLLBACK")  # ends the read; nothing was written
            ended = True
        except sqlite3.DatabaseError as exc:
            raise _read_error(self.path, exc) from exc
        finally:
            if connection is not None:
                if ended:
                    self._keep(file, version, connection)
                else:
                    connection.close()

    def _identity(self) -> tuple[int, int, int]:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            raise TraceStoreError(
                f"no trace store at {self.path}: nothing has been traced there yet "
                f"(choose another with {self.choose_with})"
            ) from None
        return (os.getpid(), stat.st_dev, stat.st_ino)

    def _open(self) -> tuple[sqlite3.Connection, int]:
        """A new connection, and the schema version its stand-ins were made for.

        The stand-ins are made outside any transaction: a read's ROLLBACK would drop them.
        """
        uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        try:
            connection = sqlite3.connect(
                uri,
                uri=True,
                timeout=self.timeout_s,
                isolation_level=None,
                check_same_thread=False,  # kept connections serve one thread at a time
            )
        except sqlite3.Error as exc:
            raise TraceStoreError(f"cannot open the trace store {self.path}: {exc}") from exc
        try:
            add_search_functions(connection)
            version = _checked_version(connection, self.path)
            _stand_in_for_missing_tables(connection, version)
            connection.execute("PRAGMA query_only = 1")
        except BaseException:
            connection.close()
            raise
        return connection, version

    def _take(self, file: tuple[int, int, int]) -> tuple[sqlite3.Connection, int] | None:
        with self._lock:
            while self._idle:
                identity, version, connection = self._idle.pop()
                if identity == file:
                    return connection, version
                if identity[0] == file[0]:
                    connection.close()  # another file of this process's: let it go
                else:
                    _INHERITED.append(connection)  # never used, never closed (see below)
        return None

    def _keep(
        self, file: tuple[int, int, int], version: int, connection: sqlite3.Connection
    ) -> None:
        with self._lock:
            if len(self._idle) < self.KEEP:
                self._idle.append((file, version, connection))
                return
        connection.close()

    def close(self) -> None:
        """Close the kept connections (of this process; a fork's are left alone)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for (pid, _, _), _, connection in idle:
            if pid == os.getpid():
                connection.close()
            else:
                _INHERITED.append(connection)

    def __del__(self) -> None:
        self.close()


# Connections a forked child inherited: closing one could disturb the parent's; kept
# referenced so that garbage collection never closes them.
_INHERITED: list[sqlite3.Connection] = []


def _read_error(path: Path, exc: sqlite3.DatabaseError) -> TraceStoreError:
    if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
        return TraceStoreError(
            f"cannot read the trace store {path}: another process holds it "
            f"locked ({exc}); try again when it is done"
        )
    return TraceStoreError(
        f"cannot read the trace store {path} ({exc}); is it a genai-trace store, and not corrupt?"
    )


def _empty_view(table: str, columns: str) -> str:
    nulls = ", ".join("NULL" for _ in columns.split(","))
    return f"CREATE TEMP VIEW {table} ({columns}) AS SELECT {nulls} WHERE 0"


_STAND_INS = {
    # The version that made the table: a view of the older tables stands in before it.
    # Version 0 is a file its first writer is still creating: it reads as an empty store.
    1: (
        _empty_view(
            "traces",
            "seq, trace_id, client_request_id, name, state, start_ns, end_ns, duration_ms, "
            "request_preview, response_preview, session_id, user_id, total_tokens, "
            "span_count, complete, info",
        ),
        _empty_view("trace_tags", "trace_id, key, value"),
        _empty_view("spans", "trace_id, span_id, parent_id, name, span_type, start_ns, data"),
    ),
    2: (
        "CREATE TEMP VIEW trace_spans (seq, dictionary, spans) AS "
        "SELECT seq, NULL, '[' || (SELECT group_concat(data, ',') FROM "
        "(SELECT data FROM spans WHERE spans.trace_id = traces.trace_id ORDER BY rowid)) || ']' "
        "FROM traces",
        "CREATE TEMP VIEW dictionaries (id, data) AS SELECT NULL, NULL WHERE 0",
        "CREATE TEMP VIEW span_types (span_type, seq, spans) AS "
        "SELECT span_type, seq, count(*) FROM spans JOIN traces USING (trace_id) "
        "GROUP BY span_type, seq",
    ),
    3: (
        "CREATE TEMP VIEW feedback (feedback_id, trace_id, span_id, kind, name, value, "
        "source_type, source_id, rationale, metadata, created_ns) AS "
        "SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL WHERE 0",
    ),
    4: (
        "CREATE TEMP VIEW usage_calls (trace_id, span_id, start_ns, model, span_type, status, "
        "duration_ms, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
        "reasoning_tokens, cost_usd) AS SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
        "NULL, NULL, NULL, NULL, NULL, NULL WHERE 0",
    ),
}


def _stand_in_for_missing_tables(connection: sqlite3.Connection, version: int) -> None:
    """Let a reader query a store of ``version`` that no writer of this release migrated.

    A reader cannot migrate (it opens the file read-only): each table added since the
    file's version gets a stand-in, in the connection's own TEMP schema, that reads the
    older tables. Slower than the tables (they are computed), until a writer migrates.
    """
    if version == 0 and connection.execute("SELECT 1 FROM sqlite_master").fetchone():
        # Tables, yet no version: another program's database, not a store being made.
        raise sqlite3.DatabaseError("file is not a genai-trace store (no schema version)")
    for since, statements in _STAND_INS.items():
        if version < since:
            for statement in statements:
                connection.execute(statement)


def is_busy(exc: sqlite3.OperationalError) -> bool:
    """Whether ``exc`` says another connection holds the lock."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


CONTAINS = "genai_trace_contains"
"""The SQL function behind the ``text`` filter (see :func:`add_search_functions`)."""


def add_search_functions(connection: sqlite3.Connection) -> None:
    """Register the functions the reader's filters call on ``connection``.

    ``genai_trace_contains(needle, text...)``: whether any text, Unicode case-folded
    (``str.casefold``: "Über" holds "über", "STRASSE" holds "straße"), holds the folded
    needle. One call per row for all columns keeps the cost of Python near LIKE's.
    """
    connection.create_function(CONTAINS, -1, _contains_folded, deterministic=True)


def _contains_folded(needle: str, *texts: str | None) -> bool:
    return any(text is not None and needle in text.casefold() for text in texts)
