"""Readers keep their connections between reads, and never read the wrong file with them.

A kept connection skips opening the file and parsing its schema (half the cost of reading
a trace). These tests hold it to what a fresh connection gave: the store deleted and made
again, migrated by a writer meanwhile, read from a forked child, and from many threads.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import threading
from pathlib import Path

import pytest

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader, TraceStoreError
from genai_trace.store.schema import SCHEMA_VERSION
from tests.helpers.sqlite import connect

FIXTURES = Path(__file__).parent / "fixtures"


def write(db: Path, *names: str) -> None:
    genai_trace.configure(exporters=[SQLiteTraceStore(db, retention=None)])
    for name in names:
        with genai_trace.start_span(name):
            pass
    assert genai_trace.flush(10)
    genai_trace.shutdown()


def names(reader: TraceReader) -> list[str]:
    return [info.name for info in reader.search(TraceQuery(descending=False))]


def test_a_store_deleted_and_made_again_is_read_anew(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    write(db, "first")
    reader = TraceReader(db)
    assert names(reader) == ["first"]
    for leftover in tmp_path.iterdir():
        leftover.unlink()
    write(db, "second")
    assert names(reader) == ["second"]


def test_a_store_migrated_while_a_reader_keeps_a_connection_is_read_migrated(
    tmp_path: Path,
) -> None:
    db = tmp_path / "traces.db"
    shutil.copyfile(FIXTURES / "store_v1.db", db)
    reader = TraceReader(db)
    before = reader.stats()["by_span_type"]  # through the version-1 stand-ins
    write(db, "after the upgrade")  # the writer migrates the store
    with connect(db) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    assert version == SCHEMA_VERSION
    after = reader.stats()["by_span_type"]
    assert after == {**before, "CHAIN": before["CHAIN"] + 1}
    assert names(reader)[-1] == "after the upgrade"


@pytest.mark.skipif(sys.platform == "win32", reason="fork")
def test_a_forked_child_reads_with_connections_of_its_own(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    write(db, "one", "two")
    from genai_trace.store import schema

    reader = TraceReader(db)
    assert names(reader) == ["one", "two"]  # a connection kept in the parent
    (parents,) = [connection for _, _, connection in reader._connections._idle]  # type: ignore[union-attr]
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 only if it read right, on a connection of its own
        try:
            read = names(reader) == ["one", "two"] and reader.count() == 2
            kept = reader._connections._idle  # type: ignore[union-attr]
            own = [c for (opener, _, _), _, c in kept if opener == os.getpid()]
            status = 0 if read else 1
            if not (own and parents not in own and parents in schema._INHERITED):
                status = 2  # it read on the parent's connection
        except BaseException:
            status = 3
        os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert names(reader) == ["one", "two"]  # the parent's connection still serves it


def test_many_threads_share_one_reader(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    write(db, *(f"t{i}" for i in range(20)))
    reader = TraceReader(db)
    ids = [info.trace_id for info in reader.search(TraceQuery(limit=20))]
    failures: list[str] = []

    def read() -> None:
        for trace_id in ids * 5:  # bounded: 100 reads a thread
            trace = reader.get(trace_id)
            if trace is None or trace.info.trace_id != trace_id:
                failures.append(trace_id)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []


def test_a_store_its_first_writer_is_still_creating_reads_as_empty(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    sqlite3.connect(db).close()  # the file exists, its tables not yet (schema version 0)
    reader = TraceReader(db)
    assert reader.search() == []
    assert reader.count() == 0
    assert reader.get("4bf92f3577b34da6a3ce929d0e0e4736") is None
    assert reader.stats()["traces"] == 0
    write(db, "first")  # the writer creates the tables: the same reader sees them
    assert names(reader) == ["first"]


def test_another_programs_database_is_refused_not_read_as_empty(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    with connect(db) as connection:
        connection.execute("CREATE TABLE notes (text TEXT)")
    connection.close()
    with pytest.raises(TraceStoreError, match="is it a genai-trace store"):
        TraceReader(db).search()
