"""Feedback in the local store: its table, its writes, its reads and its search filters.

A feedback names its trace by trace id or by the app's client request id, and may arrive
before its trace does (logged while the trace was open, or in another process that has not
written it yet). :class:`FeedbackInbox` keeps such a feedback pending, bounded in number and
in time, and stores it once its trace is there; one that never finds its trace is counted
and reported as lost, never raised into the app. The feedback id is the table's key, so a
feedback delivered twice is stored once.

Layer: ``store``; imports ``_semantics`` and ``_errors``. :mod:`~genai_trace.store.schema`
adds the table (:func:`add_feedback_table`), the writer and the reader call the rest.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from genai_trace._errors import ThrottledWarning
from genai_trace._semantics.codec import loads
from genai_trace._semantics.feedback import (
    Feedback,
    FeedbackDelivery,
    Source,
    check_value,
    value_json,
)

_TABLE = """
CREATE TABLE IF NOT EXISTS feedback (
    feedback_id TEXT PRIMARY KEY,
    trace_id TEXT NOT NULL,
    span_id TEXT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    source_type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    rationale TEXT,
    metadata TEXT,
    created_ns INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_trace ON feedback (trace_id, created_ns);
CREATE INDEX IF NOT EXISTS feedback_name ON feedback (name, value)
"""

_COLUMNS = (
    "feedback_id, trace_id, span_id, kind, name, value, source_type, source_id, rationale, "
    "metadata, created_ns"
)


def add_feedback_table(connection: sqlite3.Connection) -> None:
    """Schema version 2 to 3: the ``feedback`` table (the store's migration step)."""
    for statement in _TABLE.split(";"):
        if statement.strip():
            connection.execute(statement)


# --- reading -------------------------------------------------------------------------------


def read_feedback(
    connection: sqlite3.Connection, trace_ids: Sequence[str]
) -> dict[str, list[Feedback]]:
    """The feedback of each of ``trace_ids``, oldest first.

    A store from before feedback has none: its readers see an empty stand-in table
    (``schema._STAND_INS``).
    """
    found: dict[str, list[Feedback]] = {}
    if not trace_ids:
        return found
    for start in range(0, len(trace_ids), 900):
        chunk = list(trace_ids[start : start + 900])
        marks = ",".join("?" * len(chunk))
        rows = connection.execute(
            f"SELECT {_COLUMNS} FROM feedback WHERE trace_id IN ({marks}) "
            "ORDER BY created_ns, feedback_id",
            chunk,
        ).fetchall()
        for row in rows:
            feedback = _from_row(row)
            found.setdefault(feedback.trace_id, []).append(feedback)
    return found


def _from_row(row: Sequence[Any]) -> Feedback:
    return Feedback(
        feedback_id=row[0],
        trace_id=row[1],
        span_id=row[2],
        kind=row[3],
        name=row[4],
        value=loads(row[5]),
        source=Source(row[6], row[7]),
        rationale=row[8],
        metadata=None if row[9] is None else loads(row[9]),
        created_ns=row[10],
    )


def search_clauses(
    feedback: Mapping[str, Any] | None, feedback_name: str | None
) -> tuple[list[str], list[Any]]:
    """Conditions on ``traces`` for feedback filters: a value per name, or a name at all.

    ``feedback={"thumbs": False}``: traces with a ``thumbs`` feedback of ``false``;
    ``feedback_name="thumbs"``: traces with any ``thumbs`` feedback.

    Raises:
        TypeError: a value a feedback cannot hold.
    """
    clauses: list[str] = []
    params: list[Any] = []
    for name, value in (feedback or {}).items():
        texts = _spellings(check_value(value))
        marks = ", ".join("?" * len(texts))
        clauses.append(
            f"trace_id IN (SELECT trace_id FROM feedback WHERE name = ? AND value IN ({marks}) "
            "AND kind = 'feedback')"
        )
        params.extend((name, *texts))
    if feedback_name is not None:
        clauses.append(
            "trace_id IN (SELECT trace_id FROM feedback WHERE name = ? AND kind = 'feedback')"
        )
        params.append(feedback_name)
    return clauses, params


def _spellings(value: Any) -> list[str]:
    """The JSON texts a value may be stored as: ``1`` and ``1.0`` are the same score."""
    texts = [value_json(value)]
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and float(value).is_integer()
    ):
        texts = list(dict.fromkeys([value_json(int(value)), value_json(float(value))]))
    return texts


# --- writing -------------------------------------------------------------------------------


class FeedbackInbox:
    """Feedback on its way into one store: stored when its trace is, pending until then.

    Bounded: at most ``max_pending`` feedback wait, each at most ``wait_s`` seconds; what
    waits longer (its trace never arrived: an unknown id) or finds the inbox full is
    counted in :attr:`lost` and reported by a throttled warning. Guarded by the store's
    write lock: every method runs under it.
    """

    def __init__(self, path: object, wait_s: float, max_pending: int = 10_000) -> None:
        self.wait_s = wait_s
        self.max_pending = max_pending
        self.stored = 0
        """Feedback written to the store (a duplicate delivery is not counted again)."""
        self.lost = 0
        """Feedback whose trace never reached the store in time, or that found it full."""
        self._path = path
        self._pending: deque[tuple[float, FeedbackDelivery]] = deque()
        self._lock = threading.Lock()  # guards _pending against the shutdown's final count
        self._lost_warning = ThrottledWarning(
            "genai_trace: %s: feedback for a trace that is not in the store (an unknown "
            "trace id or client request id, e.g. %r): %d feedback lost since %s; see "
            "genai_trace.stats()"
        )
        self.write_failed = ThrottledWarning(
            "genai_trace: cannot store feedback in %s (%s); it stays pending and is tried "
            "again: %d failures since %s"
        )

    @property
    def pending(self) -> int:
        """Feedback waiting for its trace."""
        return len(self._pending)

    def add(self, deliveries: Iterable[FeedbackDelivery]) -> None:
        """Take ``deliveries`` in; they are stored by the next :meth:`deliver`."""
        now = time.monotonic()
        with self._lock:
            for delivery in deliveries:
                if len(self._pending) >= self.max_pending:
                    self._lose([delivery])
                    continue
                self._pending.append((now, delivery))

    def deliver(self, connection: sqlite3.Connection) -> None:
        """Store each pending feedback whose trace is in the store, in one transaction.

        The caller holds a write connection (busy timeout set); a failure leaves every
        feedback pending for the next try.
        """
        with self._lock:
            waiting = list(self._pending)
        if not waiting:
            return
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            found = _resolve(connection, [_key(d) for _, d in waiting])
            rows = [_row(d, found[_key(d)]) for _, d in waiting if _key(d) in found]
            self.stored += _insert(connection, rows)
        done = {d.feedback.feedback_id for _, d in waiting if _key(d) in found}
        with self._lock:
            self._pending = deque(
                item for item in self._pending if item[1].feedback.feedback_id not in done
            )

    def expire(self, now: float | None = None) -> None:
        """Count as lost what waited longer than ``wait_s`` for its trace."""
        now = time.monotonic() if now is None else now
        expired: list[FeedbackDelivery] = []
        with self._lock:
            while self._pending and now - self._pending[0][0] >= self.wait_s:
                expired.append(self._pending.popleft()[1])
        if expired:
            self._lose(expired)

    def lose_all(self) -> None:
        """At shutdown: what still waits will never be stored by this process."""
        with self._lock:
            left = [d for _, d in self._pending]
            self._pending.clear()
        if left:
            self._lose(left)

    def _lose(self, deliveries: list[FeedbackDelivery]) -> None:
        self.lost += len(deliveries)
        self._lost_warning.record(len(deliveries), self._path, deliveries[0].feedback.trace_id)


def _key(delivery: FeedbackDelivery) -> str:
    return delivery.trace_id or delivery.feedback.trace_id


def _resolve(connection: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
    """Each key that names a stored trace (its id, else its client request id) → trace id."""
    found: dict[str, str] = {}
    unique = list(dict.fromkeys(keys))
    for start in range(0, len(unique), 400):
        chunk = unique[start : start + 400]
        marks = ",".join("?" * len(chunk))
        rows = connection.execute(
            f"SELECT trace_id, client_request_id FROM traces WHERE trace_id IN ({marks}) "
            f"OR client_request_id IN ({marks})",
            [*chunk, *chunk],
        ).fetchall()
        wanted = set(chunk)
        for trace_id, request_id in rows:
            if request_id in wanted:
                found.setdefault(request_id, trace_id)
        for trace_id, _ in rows:
            if trace_id in wanted:
                found[trace_id] = trace_id  # a trace id beats a request id that looks like one
    return found


def _row(delivery: FeedbackDelivery, trace_id: str) -> tuple[Any, ...]:
    fb = delivery.feedback
    return (
        fb.feedback_id,
        trace_id,
        fb.span_id,
        fb.kind,
        fb.name,
        value_json(fb.value),
        fb.source.type,
        fb.source.id,
        fb.rationale,
        None if fb.metadata is None else value_json(dict(fb.metadata)),
        fb.created_ns,
    )


def _insert(connection: sqlite3.Connection, rows: list[tuple[Any, ...]]) -> int:
    """Insert ``rows``, each feedback once; return how many were new."""
    before = connection.total_changes
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        marks = ",".join(["(" + ",".join("?" * 11) + ")"] * len(chunk))
        connection.execute(
            f"INSERT OR IGNORE INTO feedback ({_COLUMNS}) VALUES {marks}",
            [value for row in chunk for value in row],
        )
    return connection.total_changes - before
