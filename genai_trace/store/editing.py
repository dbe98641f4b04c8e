"""Editing the local store after the fact: a trace's tags, and deleting whole traces.

The writer (:mod:`~genai_trace.store.writer`) only ever adds what the app traced; these
are the user's own edits (``genai_trace.set_trace_tag``, ``delete_trace_tag``,
``delete_traces``, ``genai-trace tag`` and ``genai-trace rm``). Each edit is one write
transaction on a connection of its own, so it waits for the exporter's write like another
process would (WAL: readers never wait). A trace's tags live twice, in ``trace_tags`` (the
filter) and in the stored facts (``info``, what readers return): both change together.

Layer: ``store``; imports ``_semantics`` (the codec) and the rest of ``store``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from genai_trace._semantics.codec import loads
from genai_trace.exceptions import TraceNotStoredError
from genai_trace.store.payloads import stored_facts
from genai_trace.store.reader import TraceQuery, filter_clauses
from genai_trace.store.schema import (
    TraceStoreError,
    add_search_functions,
    is_busy,
    open_for_writing,
)

_CHUNK = 900  # bound values per IN (...), under SQLite's oldest limit of 999


def set_tag(path: Path, trace_id: str, key: str, value: str, timeout_s: float) -> str:
    """Set tag ``key`` of the stored trace ``trace_id`` (or client request id) to ``value``.

    Returns the trace id edited.

    Raises:
        TraceNotStoredError: no such trace in the store.
        TraceStoreError: the store is missing, locked past ``timeout_s``, or not a store.
    """
    with _write_transaction(path, timeout_s) as connection:
        stored_id, info = _stored_info(connection, path, trace_id)
        info["tags"] = {**(info.get("tags") or {}), key: value}
        connection.execute(
            "INSERT OR REPLACE INTO trace_tags (trace_id, key, value) VALUES (?, ?, ?)",
            (stored_id, key, value),
        )
        _save_info(connection, stored_id, info)
    return stored_id


def delete_tag(path: Path, trace_id: str, key: str, timeout_s: float) -> bool:
    """Remove tag ``key`` from the stored trace ``trace_id``; whether it had that tag.

    Raises:
        TraceNotStoredError: no such trace in the store.
        TraceStoreError: the store is missing, locked past ``timeout_s``, or not a store.
    """
    with _write_transaction(path, timeout_s) as connection:
        stored_id, info = _stored_info(connection, path, trace_id)
        tags = dict(info.get("tags") or {})
        had = tags.pop(key, None) is not None
        info["tags"] = tags
        connection.execute(
            "DELETE FROM trace_tags WHERE trace_id = ? AND key = ?", (stored_id, key)
        )
        _save_info(connection, stored_id, info)
    return had


def delete_traces(
    path: Path, trace_ids: Sequence[str] | None, query: TraceQuery | None, timeout_s: float
) -> list[str]:
    """Delete whole traces: those named (trace ids or client request ids) or matching ``query``.

    Returns the trace ids deleted (an id not stored is skipped, not an error: the end
    state the caller asked for holds). ``query``'s filters count, its order and limit not.

    Raises:
        TraceStoreError: the store is missing, locked past ``timeout_s``, or not a store.
    """
    with _write_transaction(path, timeout_s) as connection:
        ids = _matching_ids(connection, trace_ids, query)
        delete_whole_traces(connection, ids)
    return ids


def delete_whole_traces(connection: sqlite3.Connection, trace_ids: Sequence[str]) -> None:
    """Delete every row of ``trace_ids`` in every per-trace table, inside the caller's write.

    A per-trace table is any with a ``trace_id`` column, or a ``seq`` column (the trace's
    row number: the packed spans and span types), so a table added by a later migration
    goes with its traces without being named here; ``traces`` goes last.
    """
    if not trace_ids:  # the writer's upkeep, most times: nothing is old enough to go
        return
    tables = connection.execute(
        "SELECT m.name, c.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c "
        "WHERE m.type = 'table' AND c.name IN ('trace_id', 'seq') AND m.name != 'traces' "
        "AND m.name NOT LIKE 'sqlite%' "  # sqlite_sequence's seq is the next row number
        "ORDER BY m.name"
    ).fetchall()
    for start in range(0, len(trace_ids), _CHUNK):
        chunk = list(trace_ids[start : start + _CHUNK])
        marks = ",".join("?" * len(chunk))
        for table, key in tables:
            rows = f"({marks})"
            if key == "seq":
                rows = f"(SELECT seq FROM traces WHERE trace_id IN ({marks}))"
            connection.execute(f'DELETE FROM "{table}" WHERE {key} IN {rows}', chunk)
        connection.execute(f"DELETE FROM traces WHERE trace_id IN ({marks})", chunk)


@contextmanager
def _write_transaction(path: Path, timeout_s: float) -> Iterator[sqlite3.Connection]:
    """One write transaction on the existing store ``path``, committed at the end."""
    if not path.exists():
        raise TraceStoreError(f"no trace store at {path}: nothing has been traced there yet")
    try:
        connection = open_for_writing(path, timeout_s)
    except sqlite3.DatabaseError as exc:
        raise _store_error(path, exc) from exc
    try:
        add_search_functions(connection)
        with connection:
            connection.execute("BEGIN IMMEDIATE")
            yield connection
    except sqlite3.DatabaseError as exc:
        raise _store_error(path, exc) from exc
    finally:
        connection.close()


def _store_error(path: Path, exc: sqlite3.DatabaseError) -> TraceStoreError:
    if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
        return TraceStoreError(
            f"cannot edit the trace store {path}: another process holds it locked ({exc}); "
            "try again when it is done"
        )
    return TraceStoreError(
        f"cannot edit the trace store {path} ({exc}); is it a genai-trace store, and not corrupt?"
    )


def _stored_info(
    connection: sqlite3.Connection, path: Path, trace_id: str
) -> tuple[str, dict[str, Any]]:
    row = connection.execute(
        "SELECT trace_id, info FROM traces WHERE trace_id = ? OR client_request_id = ? "
        "ORDER BY trace_id = ? DESC LIMIT 1",
        (trace_id, trace_id, trace_id),
    ).fetchone()
    if row is None:
        raise TraceNotStoredError(
            f"no trace {trace_id!r} in the trace store {path} (a trace id is 32 hex digits, "
            "or give the client request id)"
        )
    return str(row[0]), loads(row[1])


def _save_info(connection: sqlite3.Connection, trace_id: str, info: dict[str, Any]) -> None:
    connection.execute(
        "UPDATE traces SET info = ? WHERE trace_id = ?", (stored_facts(info), trace_id)
    )


def _matching_ids(
    connection: sqlite3.Connection, trace_ids: Sequence[str] | None, query: TraceQuery | None
) -> list[str]:
    found: list[str] = []
    if trace_ids is not None:
        for start in range(0, len(trace_ids), _CHUNK):
            chunk = list(trace_ids[start : start + _CHUNK])
            marks = ",".join("?" * len(chunk))
            found.extend(
                str(trace_id)
                for (trace_id,) in connection.execute(
                    f"SELECT trace_id FROM traces WHERE trace_id IN ({marks}) "
                    f"OR client_request_id IN ({marks})",
                    [*chunk, *chunk],
                )
            )
    if query is not None:
        clauses, params = filter_clauses(query)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        found.extend(
            str(trace_id)
            for (trace_id,) in connection.execute(f"SELECT trace_id FROM traces {where}", params)
        )
    return list(dict.fromkeys(found))
