"""The store's file: its default path, its tables, and how a connection to it is opened.

Both sides open the file here: :mod:`~genai_trace.store.writer` (WAL mode, so readers never
block it) and :mod:`~genai_trace.store.reader` (read-only, one snapshot per read). A problem
with the file reaches a reader as :class:`TraceStoreError`, with a message that says what to
do.

Layer: ``store``; imports ``_errors`` only.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from genai_trace.exceptions import TraceStoreError as TraceStoreError  # its home; re-exported

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
    for statement in _SCHEMA_V1.split(";"):
        if statement.strip():
            connection.execute(statement)


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
    """Token usage by kind and cost: a ``usage_calls`` row per billed call.

    The spans that count in a trace's usage and cost (the rule of
    ``_semantics.facts.billed_spans``), so usage can be summed by model, and by session,
    user or tag through their traces; a trace's rows go when it is deleted. No column is
    added to ``traces``: a trace without LLM calls (most rows) costs no byte more. Traces
    stored before keep their totals in their facts; their calls are not recovered.
    """
    for statement in _USAGE_STATEMENTS:
        connection.execute(statement)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (_create_v1, _add_usage)
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


@contextmanager
def open_for_reading(
    path: Path, timeout_s: float, choose_with: str = "db_path= or GENAI_TRACE_DB"
) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``path`` in one read transaction (one snapshot).

    ``mode=ro`` and ``query_only``: a reader can never write the store. The search
    functions are registered. ``choose_with``: how the caller's user names another store
    (the Python API's argument, or the CLI's flag), for the message of a missing one.

    Raises:
        TraceStoreError: the file is missing, locked by another process for longer than
            ``timeout_s``, corrupt, not a trace store, or written by a newer genai-trace.
    """
    if not path.exists():
        raise TraceStoreError(
            f"no trace store at {path}: nothing has been traced there yet "
            f"(choose another with {choose_with})"
        )
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None)
    except sqlite3.Error as exc:
        raise TraceStoreError(f"cannot open the trace store {path}: {exc}") from exc
    try:
        add_search_functions(connection)
        connection.execute("PRAGMA query_only = 1")
        connection.execute("BEGIN")
        _checked_version(connection, path)
        yield connection
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
            raise TraceStoreError(
                f"cannot read the trace store {path}: another process holds it "
                f"locked ({exc}); try again when it is done"
            ) from exc
        raise TraceStoreError(
            f"cannot read the trace store {path} ({exc}); "
            "is it a genai-trace store, and not corrupt?"
        ) from exc
    finally:
        connection.close()


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
