"""The exporter that writes the local store: :class:`SQLiteTraceStore`, the default destination.

One transaction per exported batch, so a crash loses at most the batch being written; WAL
mode (see :mod:`~genai_trace.store.schema`), so readers never block it. A part of a trace
already stored (another process's, or late spans) is merged into its row. The store is also
a :class:`~genai_trace.store.reader.TraceReader` of its own file.

Layer: ``store``; imports the exporter contract, ``_semantics`` and the rest of ``store``.
"""

from __future__ import annotations

import operator
import os
import sqlite3
import sys
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

from genai_trace._errors import ThrottledWarning, log_internal_error
from genai_trace._semantics.capture import clean_text
from genai_trace._semantics.facts import merge_parts
from genai_trace._semantics.feedback import FeedbackDelivery
from genai_trace._semantics.model import Trace, TraceInfo, span_to_dict, usage_dict
from genai_trace.exporters._base import ExportResult, views_read
from genai_trace.store.feedback import FeedbackInbox
from genai_trace.store.payloads import (
    FACTS_BY_DEFAULT,
    Dictionary,
    DictionarySampler,
    Packed,
    pack_spans,
    span_type_counts,
    stored_facts,
    stored_span,
    stored_span_of_view,
)
from genai_trace.store.reader import FACTS, TraceReader, read_trace
from genai_trace.store.retention import DEFAULT_RETENTION, Retention, prune
from genai_trace.store.schema import (
    DEFAULT_DB_PATH,
    TraceStoreError,
    is_busy,
    open_for_writing,
)
from genai_trace.store.usage import CALL_COLUMNS, call_rows


class SQLiteTraceStore(TraceReader):
    """Exporter and reader of the local trace store.

    As an exporter it creates the file (and its folder) on first write. As a reader (see
    :class:`~genai_trace.store.reader.TraceReader`) it opens an existing store read-only
    and raises :class:`~genai_trace.store.schema.TraceStoreError` with a clear message when
    the file is missing, corrupt or not a trace store.

    Example:
        >>> store = SQLiteTraceStore(".genai_trace/traces.db")
        >>> genai_trace.configure(exporters=[store])
        >>> [info.name for info in store.search(TraceQuery(state="ERROR", limit=10))]
    """

    reports_own_failures = True
    """It logs a failed write itself, naming the file and the cause (no generic warning)."""
    releases_views = True
    """Each trace's views are let go as soon as its rows are made, not after the batch: a
    batch of 1,024 traces' views is what the garbage collector would walk otherwise."""
    max_batch = 1024
    """Traces per transaction. Every transaction waits for the GIL a few times behind a busy
    app thread: large batches keep the store ahead of a tight loop. Not larger: a batch's
    traces are objects every full garbage collection walks while it is written."""

    def __init__(
        self,
        path: str | os.PathLike[str] = DEFAULT_DB_PATH,
        *,
        busy_timeout_s: float = 10.0,
        retention: Retention | None = DEFAULT_RETENTION,
        feedback_wait_s: float = 300.0,
    ) -> None:
        super().__init__(path, busy_timeout_s=busy_timeout_s)
        if not isinstance(feedback_wait_s, (int, float)) or not 0 <= feedback_wait_s < 1e9:
            raise ValueError(
                f"feedback_wait_s must be seconds, at least 0, got {feedback_wait_s!r}"
            )
        self.feedback = FeedbackInbox(self.path, float(feedback_wait_s))
        """Feedback stored, pending (its trace not stored yet: it waits up to
        ``feedback_wait_s``, the default being the time a trace may stay open) and lost."""
        self._next_feedback_retry = 0.0
        self.retention = None if retention is None or retention.off else retention
        """The limits applied after writes (``None``: the store grows without bound)."""
        self.pruned = 0
        """Traces deleted by retention since this store was made (``genai_trace.stats()``)."""
        self._written_since_upkeep = 0
        self._next_upkeep = 0.0  # monotonic; the first write checks a store left big before
        self._next_truncate = 0.0
        self._upkeep_failed = ThrottledWarning(
            "genai_trace: cannot prune the trace store %s (%s); will try again: %d failures "
            "since %s"
        )
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
        self._packing = _Packing()

    # --- exporter --------------------------------------------------------------------

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Write ``traces`` in one transaction; a store that cannot be written fails the batch.

        A file locked by another writer is waited for up to ``busy_timeout_s``; a corrupt,
        locked or unwritable file is reported (one warning per interval) and counted by the
        destination, never raised into the app. A trace the store refuses (a value SQLite
        cannot bind) costs only itself: the batch is written again trace by trace, and the
        refused one is logged and counted (:meth:`take_rejected`).
        """
        read: set[int] = set()  # the traces whose views this export let go (by id)
        try:
            with self._lock:
                try:
                    self._write(traces, read)
                except Exception as exc:
                    if not _is_about_a_trace(exc):
                        raise
                    self._write_one_by_one(traces, read)
                self._deliver_feedback()
                self._upkeep(len(traces))
            return ExportResult.SUCCESS
        except (sqlite3.DatabaseError, OSError, TraceStoreError) as exc:
            self._write_failed.record(len(traces), self.path, _describe(exc))
            return ExportResult.FAILURE
        except Exception:
            log_internal_error("SQLiteTraceStore.export")
            return ExportResult.FAILURE

    def _upkeep(self, written: int) -> None:
        """Every so many traces or seconds: prune to the retention limits, empty a grown WAL.

        Runs on the export thread, after a write. A store busy with another process is left
        for the next time.
        """
        self._written_since_upkeep += written
        now = time.monotonic()
        if self._written_since_upkeep < UPKEEP_EVERY_TRACES and now < self._next_upkeep:
            return
        self._written_since_upkeep = 0
        self._next_upkeep = now + UPKEEP_EVERY_S
        connection = self._writer
        if connection is None:
            return
        try:
            if self.retention is not None:
                pruned = prune(connection, self.retention, at_most=UPKEEP_MAX_PRUNED)
                self.pruned += pruned
                if pruned == UPKEEP_MAX_PRUNED:  # far over a limit: the next write goes on
                    self._next_upkeep = 0.0
            # SQLite's own checkpoints never shrink the WAL, and while readers keep arriving
            # (the viewer) they cannot restart it either, so it grows. TRUNCATE waits a
            # moment for the readers of older snapshots to finish (new ones read the file)
            # and then empties it; a reader holding one snapshot for longer is waited for
            # at the next upkeep. Only a grown WAL, or a while later: emptied after every
            # batch, the file's pages would be copied and written anew each time.
            if self._wal_bytes() > WAL_TRUNCATE_BYTES or now >= self._next_truncate:
                self._next_truncate = now + UPKEEP_EVERY_S
                connection.execute(f"PRAGMA busy_timeout={int(_BUSY_SLICE_S * 1000)}")
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error as exc:
            if not (isinstance(exc, sqlite3.OperationalError) and is_busy(exc)):
                self._upkeep_failed.record(1, self.path, _describe(exc))

    def _wal_bytes(self) -> int:
        try:
            return os.stat(f"{os.fspath(self.path)}-wal").st_size
        except OSError:  # no WAL (yet): nothing to empty
            return 0

    def export_feedback(self, deliveries: Sequence[FeedbackDelivery]) -> ExportResult:
        """Store feedback whose trace is stored; the rest waits for its trace (bounded).

        Called on the destination's thread, in queue order with the traces. A store that
        cannot be written keeps the feedback pending and tries again (see :meth:`tick`).
        """
        with self._lock:
            self.feedback.add(deliveries)
            self._deliver_feedback()
        return ExportResult.SUCCESS

    def tick(self) -> None:
        """Look again for the traces of pending feedback; expire what waited too long.

        On the destination's thread, a few times a second (another process may have
        stored the trace meanwhile).
        """
        if not self.feedback.pending:
            return
        now = time.monotonic()
        if now < self._next_feedback_retry:
            return
        self._next_feedback_retry = now + _FEEDBACK_RETRY_S
        with self._lock:
            self._deliver_feedback()
            self.feedback.expire(now)

    def _deliver_feedback(self) -> None:
        """Store the pending feedback whose trace is there (holding ``_lock``)."""
        if not self.feedback.pending or self._closing.is_set():
            return
        try:
            connection = self._writer or self._open_writer()
            connection.execute(f"PRAGMA busy_timeout={int(_BUSY_SLICE_S * 1000)}")
            self.feedback.deliver(connection)
        except (sqlite3.Error, OSError, TraceStoreError) as exc:
            # Kept pending: the next batch or tick tries again, until it expires.
            self.feedback.write_failed.record(1, self.path, _describe(exc))

    def take_rejected(self) -> int:
        """Traces refused one by one (the rest of their batch stored) since the last call.

        The destination counts them as failed in ``genai_trace.stats()``.
        """
        with self._lock:
            rejected, self._rejected = self._rejected, 0
        return rejected

    def _write_one_by_one(self, traces: Sequence[Trace], read: set[int]) -> None:
        """Each trace in its own transaction; one the store refuses is dropped and counted.

        Text that SQLite cannot encode (a lone surrogate that got past capture, from another
        instrumentation) is stored with U+FFFD in its place rather than dropped.
        """
        for trace in traces:
            try:
                try:
                    self._write([trace], read)
                except UnicodeEncodeError:
                    self._write([trace], read, clean=True)
            except Exception as exc:
                if not _is_about_a_trace(exc):
                    raise
                self._rejected += 1
                self._trace_failed.record(
                    1, self.path, trace.info.trace_id, f"{type(exc).__name__}: {exc}"
                )

    def _write(self, traces: Sequence[Trace], read: set[int], clean: bool = False) -> None:
        """One transaction, waiting up to ``busy_timeout_s`` for another writer's lock.

        ``read``: the traces (by id) whose views this export has let go already.

        SQLite's own busy handler waits (it takes the lock soon after it is free; polls from
        here left gaps that other processes filled, so under load a writer could wait out
        its whole deadline), in slices, so that shutdown can stop a write that waits.
        """
        deadline = time.monotonic() + self.busy_timeout_s
        while True:
            try:
                # Creating the file takes the write lock too: inside the retry.
                connection = self._writer or self._open_writer()
                left_ms = (deadline - time.monotonic()) * 1000
                wait_ms = int(max(1.0, min(left_ms, _BUSY_SLICE_S * 1000)))
                connection.execute(f"PRAGMA busy_timeout={wait_ms}")
                try:
                    with connection:
                        _insert_batch(connection, traces, self._packing, read, clean)
                finally:
                    self._packing.committed(sys.exc_info()[0] is None)
                return
            except sqlite3.OperationalError as exc:
                if not is_busy(exc) or time.monotonic() >= deadline or self._closing.is_set():
                    self._drop_writer()
                    raise
            except (sqlite3.DatabaseError, TraceStoreError):
                self._drop_writer()  # reopened at the next batch: the file may be fixed
                raise

    def _drop_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def shutdown(self) -> None:
        """Close the writer connection (a write waiting for a lock gives up first)."""
        if self._lock.acquire(timeout=_SHUTDOWN_WAIT_S):
            try:  # the last chance of feedback whose trace arrived last
                self._deliver_feedback()
            finally:
                self._lock.release()
        self.feedback.lose_all()
        self._closing.set()
        if not self._lock.acquire(timeout=_SHUTDOWN_WAIT_S):
            return  # a write is still running; its connection closes with the process
        try:
            self._drop_writer()
        finally:
            self._lock.release()

    def after_fork_in_child(self) -> None:
        """In a forked child (the exporter contract's hook): open a connection of its own."""
        # SQLite forbids using a connection across fork; closing it could release the
        # parent's locks. It is kept referenced, never used, never closed.
        _ABANDONED.append(self._writer)
        self._writer = None
        self._lock = threading.Lock()
        self.feedback = FeedbackInbox(self.path, self.feedback.wait_s)  # the parent's stays

    def _open_writer(self) -> sqlite3.Connection:
        # One slice of busy timeout; _write retries up to busy_timeout_s.
        connection = open_for_writing(self.path, _BUSY_SLICE_S)
        # Closed when the store goes unclosed (Python 3.13 warns of a connection collected
        # open), in this process only: a forked child must not close its parent's. Not at
        # exit, which flushes the last traces through it.
        weakref.finalize(self, _close_in, os.getpid(), connection).atexit = False
        self._closing.clear()
        self._packing.opened(connection)
        self._writer = connection
        return connection


UPKEEP_EVERY_TRACES = 1000
"""Traces written between two retention checks (or :data:`UPKEEP_EVERY_S`, if sooner)."""
UPKEEP_EVERY_S = 30.0
WAL_TRUNCATE_BYTES = 8 * 1024 * 1024
"""A WAL past this size is emptied at the next upkeep; a smaller one every ``UPKEEP_EVERY_S``."""
UPKEEP_MAX_PRUNED = 5000
"""Traces one upkeep deletes at most: a store found far over its limits (an old store, or
limits just lowered) is pruned a slice per write, so the export thread keeps up."""
_BUSY_SLICE_S = 0.25
"""The longest SQLite waits for a lock before shutdown may stop the write."""
_SHUTDOWN_WAIT_S = 1.0
_FEEDBACK_RETRY_S = 1.0
"""How often pending feedback looks for its trace in the store again."""
# Connections inherited by a forked child: referenced so garbage collection never closes them.
_ABANDONED: list[sqlite3.Connection | None] = []


def _close_in(pid: int, connection: sqlite3.Connection) -> None:
    if os.getpid() == pid:
        connection.close()


def _is_about_a_trace(exc: BaseException) -> bool:
    """Whether a failed write is the fault of a value written, not of the file.

    The file's own trouble (locked, busy, full, read-only, corrupt, an I/O error) is an
    ``OperationalError``, a bare ``DatabaseError``, an ``OSError`` or a
    :class:`TraceStoreError` (a store of a newer genai-trace); a value SQLite cannot
    bind raises anything else (``UnicodeEncodeError``, ``OverflowError``, ``DataError``...).
    """
    if isinstance(exc, (sqlite3.OperationalError, OSError, TraceStoreError)):
        return False
    return type(exc) is not sqlite3.DatabaseError


def _describe(exc: BaseException) -> str:
    if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
        return f"{exc}: another process holds it locked"
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return f"{exc}: the file is corrupt or not a genai-trace store; move it away"
    return str(exc)


_TRACE_COLUMNS = (
    "trace_id, client_request_id, name, state, start_ns, end_ns, duration_ms, "
    "request_preview, response_preview, session_id, user_id, total_tokens, span_count, "
    "complete, info"
)
_TRACE_INSERT = f"INSERT INTO traces ({_TRACE_COLUMNS}) VALUES {{}}"
_TRACE_INSERT_NEW = _TRACE_INSERT + " ON CONFLICT (trace_id) DO NOTHING"
# A row already stored is another part of the trace: it was merged with this one before.
_TRACE_UPSERT = (
    _TRACE_INSERT
    + " ON CONFLICT (trace_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in _TRACE_COLUMNS.split(", ")[1:])
)
_TAG_INSERT = "INSERT OR REPLACE INTO trace_tags (trace_id, key, value) VALUES {}"
_SPANS_INSERT = "INSERT OR REPLACE INTO trace_spans (seq, dictionary, spans) VALUES {}"
_TYPES_INSERT = "INSERT OR REPLACE INTO span_types (span_type, seq, spans) VALUES {}"
_CALL_INSERT = f"INSERT OR REPLACE INTO usage_calls ({CALL_COLUMNS}) VALUES {{}}"
_MAX_VARIABLES = 30_000  # SQLite allows 32,766 bound values per statement since 3.32
_IDS_PER_STATEMENT = 900  # bound values in one IN (...) list, far below SQLite's limit


class _Packing:
    """How a writer packs spans: the store dictionary it uses, and its sampler until then."""

    def __init__(self) -> None:
        self.dictionary: Dictionary | None = None
        self._sampler: DictionarySampler | None = DictionarySampler()
        self._pending: Dictionary | None = None

    def opened(self, connection: sqlite3.Connection) -> None:
        """Take the store's newest dictionary, if another writer has made one."""
        row = connection.execute(
            "SELECT id, data FROM dictionaries ORDER BY id DESC LIMIT 1"
        ).fetchone()
        if row is not None:
            self.dictionary, self._sampler = Dictionary(row[0], row[1]), None

    def learn(self, connection: sqlite3.Connection, packed: Packed) -> None:
        """Sample a trace's packed spans; once enough was, insert a dictionary.

        It is inserted in the batch's transaction, and used from the next batch on if that
        transaction commits.
        """
        if self._sampler is None or self._pending is not None:
            return
        data = self._sampler.add(packed)
        if data is not None:
            cursor = connection.execute("INSERT INTO dictionaries (data) VALUES (?)", (data,))
            assert cursor.lastrowid is not None
            self._pending = Dictionary(cursor.lastrowid, data)

    def committed(self, done: bool) -> None:
        """The batch's transaction committed (``done``) or rolled back."""
        if done and self._pending is not None:
            self.dictionary, self._sampler = self._pending, None
        self._pending = None


def _insert_batch(
    connection: sqlite3.Connection,
    traces: Sequence[Trace],
    packing: _Packing,
    read: set[int],
    clean: bool = False,
) -> None:
    """Write a batch with one multi-row statement per table, in one write transaction.

    Row by row, every statement releases and retakes the GIL, and behind a busy app thread
    each retake waits a switch interval: a store written that way falls behind a tight loop.
    A part of a trace already stored (written by another process, or an earlier part of
    this one, such as late spans) or earlier in the batch is merged into its row
    (:func:`~genai_trace._semantics.facts.merge_parts`) and its spans are written again,
    whole. ``clean``: replace lone surrogates in every text written.

    Each trace is turned into its rows as the batch is read, and its views let go at once
    (once an export: ``read`` holds the ids of those let go by an earlier try): until its
    statements run, the batch holds rows of plain values (which the garbage collector stops
    tracking), not a batch's worth of span dicts and views.

    Most batches hold no part of a stored trace: their rows are inserted with no read
    first. A row whose trace is stored is not inserted (``ON CONFLICT DO NOTHING``); then
    the inserts are rolled back, the stored parts read and merged, and the rows written
    again.
    """
    # The write lock first: another process must not store a part between our read of the
    # stored parts and our write of the merge.
    connection.execute("BEGIN IMMEDIATE")
    written: dict[str, _Rows] = {}
    repeated: list[str] = []  # rare: two parts of one trace in the batch
    keyed: list[tuple[str, Trace]] = []  # each trace's id, read once (its facts are let go)
    for trace in traces:
        info = _facts(trace)
        keyed.append((info.trace_id, trace))
        if info.trace_id in written:
            repeated.append(info.trace_id)
        else:
            written[info.trace_id] = _rows(connection, packing, info, _stored_spans(trace))
        if id(trace) not in read:  # once an export, however often the batch is tried
            read.add(id(trace))
            views_read(trace)  # a retry of this batch makes them again: same rows
    for trace_id in repeated:
        written[trace_id] = _merged_rows(connection, packing, _parts_of(keyed, trace_id))
    connection.execute("SAVEPOINT fresh")
    seqs = _insert_new_traces(connection, [row for row, *_ in written.values()], clean)
    stored: dict[str, tuple[int, Trace]] = {}
    if seqs is None:  # rare: a trace of the batch is stored already
        connection.execute("ROLLBACK TO fresh")
        stored = _stored_parts(connection, list(written))
        for trace_id, (_, prior) in stored.items():
            parts = [prior, *_parts_of(keyed, trace_id)]
            written[trace_id] = _merged_rows(connection, packing, parts)
        fresh = [row for trace_id, (row, *_) in written.items() if trace_id not in stored]
        seqs = _insert_new_traces(connection, fresh, clean)
        assert seqs is not None  # under the write lock, what was not stored still is not
        seqs.update((trace_id, seq) for trace_id, (seq, _) in stored.items())
        _insert_rows(connection, _TRACE_UPSERT, [written[t][0] for t in stored], clean)
    connection.execute("RELEASE fresh")
    tag_rows = [
        (trace_id, key, value) for trace_id, (*_, tags) in written.items() for key, value in tags
    ]
    _insert_rows(connection, _TAG_INSERT, tag_rows, clean)
    rewritten = [seqs[trace_id] for trace_id in stored]
    if rewritten:  # their span types and billed calls are counted again, from all spans
        _execute_in(connection, "DELETE FROM span_types WHERE seq IN ({})", rewritten)
        _execute_in(connection, "DELETE FROM usage_calls WHERE trace_id IN ({})", list(stored))
    _insert_rows(
        connection,
        _SPANS_INSERT,
        [
            (seqs[trace_id], dictionary, packed)
            for trace_id, (_, dictionary, packed, *_) in written.items()
        ],
    )
    type_rows = [
        (span_type, seqs[trace_id], count)
        for trace_id, (_, _, _, type_counts, *_) in written.items()
        for span_type, count in type_counts
    ]
    _insert_rows(connection, _TYPES_INSERT, type_rows, clean)
    billed = [row for _, _, _, _, calls, _ in written.values() for row in calls]
    _insert_rows(connection, _CALL_INSERT, billed, clean)


_Rows = tuple[
    tuple[Any, ...],  # the trace's row
    int | None,  # the store dictionary its spans were packed with
    bytes,  # its packed spans
    tuple[tuple[str, int], ...],  # each span type and its count
    tuple[tuple[Any, ...], ...],  # its usage_calls rows
    tuple[tuple[str, str], ...],  # its tags
]
"""A trace as written, in plain values: all its rows but the ``seq`` its trace row gets.

A plain tuple, not a named one: the garbage collector stops tracking a tuple of plain values
(it never does a subclass's), and a batch holds a thousand of them."""


def _rows(
    connection: sqlite3.Connection, packing: _Packing, info: TraceInfo, spans: list[dict[str, Any]]
) -> _Rows:
    """The rows of a trace whose facts are ``info`` and whose spans' stored forms ``spans``."""
    packed = pack_spans(spans, (info.request_preview, info.response_preview), packing.dictionary)
    packing.learn(connection, packed)
    return (
        _trace_row(info),
        packed.dictionary_id,
        packed.spans,
        span_type_counts(spans),
        tuple(call_rows(info.trace_id, spans)),
        tuple(info.tags.items()) if info.tags else (),
    )


def _merged_rows(connection: sqlite3.Connection, packing: _Packing, parts: list[Trace]) -> _Rows:
    """The rows of a trace merged from its ``parts`` (rare: read as records)."""
    merged = merge_parts(parts)
    spans = [stored_span(span_to_dict(span)) for span in merged.spans]
    return _rows(connection, packing, merged.info, spans)


def _parts_of(keyed: Sequence[tuple[str, Trace]], trace_id: str) -> list[Trace]:
    """The parts of the trace ``trace_id`` in a batch (each trace by its id), in its order."""
    return [trace for key, trace in keyed if key == trace_id]


def _insert_new_traces(
    connection: sqlite3.Connection, rows: list[tuple[Any, ...]], clean: bool
) -> dict[str, int] | None:
    """Insert the rows of traces not stored yet; the ``seq`` each got, by trace id.

    ``None`` when a trace of ``rows`` is stored already: its row is left as it is and the
    caller rolls the inserts back. Under the write lock, a statement's rows take the
    ``seq``s after the largest ever given, one by one in order (``AUTOINCREMENT``): the
    last one's, ``lastrowid``, names them all.
    """
    seqs: dict[str, int] = {}
    for chunk, cursor in _insert_chunks(connection, _TRACE_INSERT_NEW, rows, clean):
        last = cursor.lastrowid
        if cursor.rowcount != len(chunk) or last is None:
            return None
        ids = [row[0] for row in chunk]
        seqs.update(zip(ids, range(last - len(chunk) + 1, last + 1), strict=True))
    return seqs


def _execute_in(connection: sqlite3.Connection, sql: str, keys: list[Any]) -> list[Any]:
    """``sql`` (its ``IN ({})`` filled) over ``keys`` a chunk at a time; the rows found."""
    rows: list[Any] = []
    for start in range(0, len(keys), _IDS_PER_STATEMENT):
        chunk = keys[start : start + _IDS_PER_STATEMENT]
        rows.extend(connection.execute(sql.format(",".join("?" * len(chunk))), chunk))
    return rows


def _facts(trace: Trace) -> TraceInfo:
    """The trace's facts; from its views when it has them (a runtime trace), records unbuilt."""
    view_info = getattr(trace, "view_info", None)
    return view_info() if view_info is not None else trace.info


def _stored_spans(trace: Trace) -> list[dict[str, Any]]:
    """Each span's stored form, from the trace's views when it has them (records unbuilt)."""
    span_views = getattr(trace, "span_views", None)
    views = span_views() if span_views is not None else None
    if views is not None:
        return [stored_span_of_view(view) for view in views]
    return [stored_span(span_to_dict(span)) for span in trace.spans]


def _stored_parts(connection: sqlite3.Connection, ids: list[str]) -> dict[str, tuple[int, Trace]]:
    """The traces among ``ids`` already stored: each one's ``seq``, and the trace whole."""
    rows = _execute_in(connection, f"SELECT {FACTS} FROM traces WHERE trace_id IN ({{}})", ids)
    return {row[1]: (row[0], read_trace(connection, row)) for row in rows}


def _trace_row(info: TraceInfo) -> tuple[Any, ...]:
    usage = info.token_usage
    return (
        info.trace_id,
        info.client_request_id,
        info.name,
        info.state,
        info.start_time_ns,
        info.end_time_ns,
        info.duration_ms,
        info.request_preview,
        info.response_preview,
        info.session_id,
        info.user_id,
        None if usage is None else usage.total_tokens,
        info.span_count,
        1 if info.complete else 0,
        _info_column(info),
    )


def _info_column(info: TraceInfo) -> str:
    if _facts_without_columns(info) == _AT_DEFAULTS:  # most traces: compared at C speed
        return "{}"
    return stored_facts(
        {
            "incomplete_reason": info.incomplete_reason,
            "dropped_spans": info.dropped_spans,
            "tags": info.tags,
            "metadata": info.metadata,
            "token_usage": usage_dict(info.token_usage),
            "cost_usd": info.cost_usd,
        }
    )


# TraceInfo's fields have the names of the facts; a usage at its default is None in both.
_facts_without_columns = operator.attrgetter(*FACTS_BY_DEFAULT)
_AT_DEFAULTS = tuple(FACTS_BY_DEFAULT.values())


def _insert_rows(
    connection: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], clean: bool = False
) -> None:
    for _ in _insert_chunks(connection, sql, rows, clean):
        pass


def _insert_chunks(
    connection: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]], clean: bool
) -> Iterator[tuple[list[tuple[Any, ...]], sqlite3.Cursor]]:
    """Insert ``rows`` in as few statements as SQLite's bound values allow.

    Yields each chunk of rows with the cursor that inserted it.
    """
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
        yield chunk, connection.execute(sql.format(",".join([row_marks] * len(chunk))), values)
