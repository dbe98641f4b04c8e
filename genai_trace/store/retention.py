"""Retention: the local store kept within its limits, by deleting its oldest whole traces.

A store nobody prunes fills the disk of a service started with no configuration, so the
default destination carries limits (:class:`Retention`): total size, age and, if asked,
count. :func:`prune` applies them; the writer calls it on its export thread every so many
traces or seconds (never on the app's thread), and ``genai-trace prune`` calls it by hand.
Traces go oldest first (by start time), whole (their spans and tags with them), a bounded
batch per write transaction so that other writers and readers wait for no more than one.

Layer: ``store``; imports the schema.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from genai_trace.store.editing import delete_whole_traces
from genai_trace.store.schema import TraceStoreError, open_for_writing

DEFAULT_MAX_BYTES = 1_000_000_000
"""1 GB: about 125,000 traces of three spans with a few hundred characters of payload each."""
DEFAULT_MAX_AGE_S = 30 * 86400.0
"""30 days."""
BATCH = 500
"""Traces deleted per write transaction."""
_TARGET = 0.9
"""Past the size limit, prune to this fraction of it, so the next check finds room."""


@dataclass(frozen=True)
class Retention:
    """The limits of a store; ``0`` turns a limit off.

    Size is the space the store's pages use (what ``VACUUM`` would leave): space freed by
    pruning is reused by later traces, so the file itself stays near the limit.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    max_age_s: float = DEFAULT_MAX_AGE_S
    max_traces: int = 0

    @property
    def off(self) -> bool:
        """Whether no limit is set."""
        return not (self.max_bytes or self.max_age_s or self.max_traces)


DEFAULT_RETENTION = Retention()
"""The limits of a store unless told otherwise: 1 GB, 30 days, any count."""


def prune(
    connection: sqlite3.Connection,
    retention: Retention,
    now_ns: int | None = None,
    at_most: int | None = None,
) -> int:
    """Delete the oldest whole traces until the store is within ``retention``; how many.

    ``connection`` is a writing connection outside any transaction. ``at_most``: stop after
    deleting that many (the writer's upkeep prunes a store far over its limits a slice at a
    time, so its export thread keeps up); the next call goes on.
    """
    budget = _Budget(at_most)
    if retention.max_age_s:
        now_ns = time.time_ns() if now_ns is None else now_ns
        cutoff = now_ns - int(retention.max_age_s * 1e9)
        budget.spend(_delete_oldest(connection, budget.left(None), cutoff))
    if retention.max_traces and _seq_range(connection) > retention.max_traces:
        excess = _trace_count(connection) - retention.max_traces
        if excess > 0:
            budget.spend(_delete_oldest(connection, budget.left(excess), keep=retention.max_traces))
    if retention.max_bytes:
        _prune_to_size(connection, retention.max_bytes, budget)
    return budget.spent


class _Budget:
    """How many more traces one call of :func:`prune` may delete (``None``: any number)."""

    def __init__(self, at_most: int | None) -> None:
        self.at_most = at_most
        self.spent = 0

    def left(self, wanted: int | None) -> int | None:
        if self.at_most is None:
            return wanted
        rest = self.at_most - self.spent
        return rest if wanted is None else min(wanted, rest)

    def spend(self, deleted: int) -> None:
        self.spent += deleted


def used_bytes(connection: sqlite3.Connection) -> int:
    """Bytes of the store's pages in use (the file less its free pages)."""
    (pages,) = connection.execute("PRAGMA page_count").fetchone()
    (free,) = connection.execute("PRAGMA freelist_count").fetchone()
    (size,) = connection.execute("PRAGMA page_size").fetchone()
    return int((pages - free) * size)


def _prune_to_size(connection: sqlite3.Connection, max_bytes: int, budget: _Budget) -> int:
    removed = 0
    for _ in range(8):  # each round measures again; the estimate per trace is rough
        used = used_bytes(connection)
        if used <= max_bytes:  # most upkeeps: the count (a scan of the whole table) not needed
            break
        count = _trace_count(connection)
        if count == 0:
            break
        wanted = max(1, math.ceil((used - max_bytes * _TARGET) / (used / count)))
        take = budget.left(wanted)
        if take is not None and take <= 0:
            break
        deleted = _delete_oldest(connection, take)
        removed += deleted
        budget.spend(deleted)
    return removed


def _seq_range(connection: sqlite3.Connection) -> int:
    """At least the number of traces, read off the ``seq`` key's two ends.

    A count scans the whole table; within a count limit (most upkeeps) this says so at once.
    Deleted traces leave gaps, so it can only be more than the count.
    """
    (span,) = connection.execute("SELECT max(seq) - min(seq) + 1 FROM traces").fetchone()
    return int(span or 0)


def _trace_count(connection: sqlite3.Connection) -> int:
    (count,) = connection.execute("SELECT count(*) FROM traces").fetchone()
    return int(count)


def _delete_oldest(
    connection: sqlite3.Connection,
    limit: int | None,
    before_ns: int = 0,
    keep: int | None = None,
) -> int:
    """Delete up to ``limit`` oldest traces (all if ``None``), or those older than ``before_ns``.

    ``keep``: never leave fewer traces than this. It is checked inside each delete's write
    transaction, so writers pruning one store at once never delete more than the limit asks.
    """
    where, params = ("WHERE start_ns < ?", [before_ns]) if before_ns else ("", [])
    deleted = 0
    if limit is not None and limit <= 0:
        return 0
    while limit is None or deleted < limit:
        take = BATCH if limit is None else min(BATCH, limit - deleted)
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            if keep is not None:
                take = min(take, _trace_count(connection) - keep)
            rows = (
                connection.execute(
                    f"SELECT seq, trace_id FROM traces {where} ORDER BY start_ns LIMIT ?",
                    [*params, take],
                ).fetchall()
                if take > 0
                else []
            )
            delete_whole_traces(connection, [trace_id for _, trace_id in rows])
        deleted += len(rows)
        if not rows or len(rows) < take:
            break
    return deleted


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_size(text: str) -> int:
    """Bytes from ``"500MB"``, ``"1.5GB"``, ``"800k"`` or ``"1000000"`` (powers of 1000).

    Raises:
        ValueError: not a size.
    """
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"expected a size such as 500MB or 1GB, got {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class PruneReport:
    """What :func:`prune_store` did."""

    removed: int
    kept: int
    used_bytes: int
    file_bytes_before: int
    file_bytes_after: int


def prune_store(path: Path, retention: Retention, vacuum: bool, timeout_s: float) -> PruneReport:
    """Prune the store at ``path`` by hand (``genai-trace prune``); ``vacuum``: shrink the file.

    Without ``vacuum`` the space freed is reused by later traces but the file keeps its
    size; ``VACUUM`` rewrites it (and needs as much free disk again while it runs).

    Raises:
        TraceStoreError: the store is missing or was written by a newer genai-trace.
    """
    if not path.exists():
        raise TraceStoreError(f"no trace store at {path}: nothing to prune")
    before = _file_bytes(path)
    connection = open_for_writing(path, timeout_s)
    try:
        removed = prune(connection, retention)
        if vacuum:
            connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report = PruneReport(
            removed, _trace_count(connection), used_bytes(connection), before, _file_bytes(path)
        )
    finally:
        connection.close()
    return report


def _file_bytes(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
