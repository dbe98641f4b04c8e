"""Retention: the store stays within its limits, deleting its oldest whole traces only.

Traces are written through the store's exporter API in batches, as the export thread does,
with synthetic start times; each test's loop is bounded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import genai_trace
from genai_trace import SpanRecord, Trace, TraceInfo
from genai_trace._runtime.config import resolve
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader
from genai_trace.store.retention import Retention, parse_size, prune, used_bytes
from genai_trace.store.schema import open_for_writing
from genai_trace.store.writer import WAL_TRUNCATE_BYTES
from tests.helpers.sqlite import connect

PAYLOAD = "lorem ipsum dolor sit amet " * 20  # about 540 characters
T0 = 1_700_000_000 * 10**9


def make_trace(i: int, start_ns: int | None = None, spans: int = 3) -> Trace:
    """Trace ``i``: ``spans`` spans with a few hundred characters each, started at T0 + i ms."""
    trace_id = f"{i:032x}"
    start = T0 + i * 10**6 if start_ns is None else start_ns
    records = tuple(
        SpanRecord(
            trace_id=trace_id,
            span_id=f"{i * 8 + n + 1:016x}",
            parent_id=None if n == 0 else f"{i * 8 + 1:016x}",
            name=f"step-{n}",
            span_type="LLM" if n else "CHAIN",
            start_time_ns=start + n,
            end_time_ns=start + 1000,
            status="OK",
            status_message=None,
            inputs={"q": f"{PAYLOAD}{i}"},
            outputs=None,
            attributes={},
        )
        for n in range(spans)
    )
    info = TraceInfo(
        trace_id=trace_id,
        name="job",
        state="OK",
        start_time_ns=start,
        end_time_ns=start + 1000,
        request_preview=f"request {i}",
        response_preview=None,
        span_count=spans,
        tags={"i": str(i)},
    )
    return Trace(info=info, spans=records)


def stored_ids(db: Path) -> list[int]:
    with connect(db) as connection:
        rows = connection.execute("SELECT trace_id FROM traces ORDER BY start_ns").fetchall()
    connection.close()
    return [int(trace_id, 16) for (trace_id,) in rows]


def orphans(db: Path) -> tuple[int, int]:
    """Spans and tags whose trace is gone: pruning deletes whole traces only."""
    with connect(db) as connection:
        (spans,) = connection.execute(
            "SELECT (SELECT count(*) FROM trace_spans WHERE seq NOT IN (SELECT seq FROM traces))"
            " + (SELECT count(*) FROM span_types WHERE seq NOT IN (SELECT seq FROM traces))"
        ).fetchone()
        (tags,) = connection.execute(
            "SELECT count(*) FROM trace_tags WHERE trace_id NOT IN (SELECT trace_id FROM traces)"
        ).fetchone()
    connection.close()
    return spans, tags


@pytest.mark.slow
def test_retention_holds_a_100000_trace_stream_under_a_small_limit(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    limit = 4_000_000
    store = SQLiteTraceStore(db, retention=Retention(max_bytes=limit, max_age_s=0))
    largest_file = 0
    for start in range(0, 100_000, 1000):
        batch = [make_trace(i, spans=1) for i in range(start, start + 1000)]
        assert store.export(batch) is genai_trace.ExportResult.SUCCESS
        with connect(db) as connection:
            # the pages in use stay under the limit, up to the traces of one upkeep interval
            assert used_bytes(connection) <= limit + 1_500_000
        connection.close()
        largest_file = max(largest_file, db.stat().st_size)
    store.shutdown()
    assert largest_file <= limit + 2_000_000  # freed pages are reused: the file stays small
    kept = stored_ids(db)
    # the newest traces, none missing between them; the rest pruned and counted
    assert kept == list(range(100_000 - len(kept), 100_000))
    assert 1000 < len(kept) < 20_000
    assert store.pruned == 100_000 - len(kept)
    assert orphans(db) == (0, 0)


def test_age_and_count_limits_delete_the_oldest_whole_traces(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    store = SQLiteTraceStore(db, retention=None)
    day = 86400 * 10**9
    now = T0 + 100 * day
    # written out of start order: the oldest by start time go first, not the first written
    store.export([make_trace(i, start_ns=now - (i % 10) * day) for i in range(10)])
    connection = open_for_writing(db, 5.0)
    try:
        assert prune(connection, Retention(max_bytes=0, max_age_s=7.5 * 86400), now) == 2
        assert sorted(stored_ids(db)) == [0, 1, 2, 3, 4, 5, 6, 7]
        assert prune(connection, Retention(max_bytes=0, max_age_s=0, max_traces=3), now) == 5
        assert stored_ids(db) == [2, 1, 0]
        assert prune(connection, Retention(max_bytes=0, max_age_s=0, max_traces=3), now) == 0
    finally:
        connection.close()
    assert orphans(db) == (0, 0)
    trace = TraceReader(db).get(f"{2:032x}")
    assert trace is not None and [s.name for s in trace.spans] == ["step-0", "step-1", "step-2"]


def test_the_default_store_prunes_by_age_and_stats_count_it(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    old = SQLiteTraceStore(db, retention=None)
    old.export([make_trace(i, start_ns=T0 + i) for i in range(5)])  # years ago
    old.shutdown()
    genai_trace.configure(db_path=str(db), store_max_age_s=3600)
    with genai_trace.start_span("now", span_type="LLM"):
        pass
    assert genai_trace.flush(10)
    (counts,) = genai_trace.stats()["destinations"].values()
    assert counts == {"exported": 1, "failed": 0, "dropped": 0, "pruned": 5}
    assert [info.name for info in TraceReader(db).search()] == ["now"]


def test_a_store_far_over_its_limits_is_pruned_a_slice_per_write(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    old = SQLiteTraceStore(db, retention=None)
    old.export([make_trace(i, start_ns=T0 + i, spans=1) for i in range(12_000)])
    old.shutdown()
    store = SQLiteTraceStore(db, retention=Retention(max_bytes=0, max_age_s=3600))
    pruned = []
    for i in range(4):
        store.export([make_trace(100_000 + i, start_ns=time.time_ns(), spans=1)])
        pruned.append(store.pruned)
    assert pruned == [5000, 10_000, 12_000, 12_000]
    assert stored_ids(db) == [100_000, 100_001, 100_002, 100_003]
    store.shutdown()


def test_pruning_a_store_within_its_limits_counts_nothing_and_deletes_nothing(
    tmp_path: Path,
) -> None:
    """The writer prunes every 1,000 traces: a store within its limits (size, age, count)
    must not be counted (a scan of the whole table, which grows with the store) nor enter a
    delete."""
    db = tmp_path / "traces.db"
    store = SQLiteTraceStore(db, retention=None)
    store.export([make_trace(i, start_ns=time.time_ns(), spans=1) for i in range(50)])
    store.shutdown()
    connection = open_for_writing(db, 5.0)
    statements: list[str] = []
    connection.set_trace_callback(statements.append)
    try:
        retention = Retention(max_bytes=10**9, max_age_s=3600, max_traces=1000)
        assert prune(connection, retention) == 0
    finally:
        connection.close()
    ran = "\n".join(statements).lower()
    assert "select" in ran  # it did look
    assert "count(" not in ran and "delete" not in ran and "sqlite_master" not in ran
    assert len(stored_ids(db)) == 50


def test_retention_off_keeps_everything(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    old = SQLiteTraceStore(db, retention=None)
    old.export([make_trace(i, start_ns=T0 + i) for i in range(5)])
    old.shutdown()
    genai_trace.configure(db_path=str(db), store_max_age_s=0, store_max_bytes=0)
    with genai_trace.start_span("now", span_type="LLM"):
        pass
    assert genai_trace.flush(10)
    (counts,) = genai_trace.stats()["destinations"].values()
    assert counts["pruned"] == 0
    assert TraceReader(db).count() == 6


@pytest.mark.slow
def test_writers_and_a_reader_during_pruning_lose_nothing_but_what_was_pruned(
    tmp_path: Path,
) -> None:
    db = tmp_path / "traces.db"
    SQLiteTraceStore(db, retention=None).export([])
    # two writers, each its own connection; each prunes to 300 traces after every batch
    retention = Retention(max_bytes=0, max_age_s=0, max_traces=300)
    stores = [SQLiteTraceStore(db, retention=retention) for _ in range(2)]
    errors: list[BaseException] = []
    reads = 0
    done = threading.Event()

    def write(w: int) -> None:
        try:
            for batch in range(40):
                first = w * 1_000_000 + batch * 50
                traces = [
                    make_trace(i, start_ns=T0 + batch * 10**9 + i) for i in range(first, first + 50)
                ]
                assert stores[w].export(traces) is genai_trace.ExportResult.SUCCESS
                stores[w]._next_upkeep = 0.0  # prune after every batch, not every 1000 traces
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        nonlocal reads
        reader = TraceReader(db)
        try:
            while not done.is_set():
                for info in reader.search(TraceQuery(limit=20)):
                    trace = reader.get(info.trace_id)
                    # pruned between the two reads, or whole: never a part of a trace
                    if trace is not None:
                        assert len(trace.spans) == 3
                        assert trace.spans[0].inputs == {"q": f"{PAYLOAD}{int(info.trace_id, 16)}"}
                reads += 1
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    done.set()
    reader.join(30)
    assert errors == []
    assert reads > 0
    # a prune that found the store busy waits for the next one: this is the next one
    connection = open_for_writing(db, 5.0)
    try:
        last = prune(connection, retention)
    finally:
        connection.close()
    written = {
        w * 1_000_000 + b * 50 + k: T0 + b * 10**9 + w * 1_000_000 + b * 50 + k
        for w in range(2)
        for b in range(40)
        for k in range(50)
    }
    kept = stored_ids(db)
    assert len(kept) == 300
    assert len(written) - len(kept) == stores[0].pruned + stores[1].pruned + last
    # what is kept is the newest 300 written, whole: nothing else was lost
    assert sorted(kept) == sorted(sorted(written, key=written.__getitem__)[-300:])
    assert orphans(db) == (0, 0)
    for store in stores:
        store.shutdown()


@pytest.mark.parametrize(
    ("text", "size"),
    [("500MB", 500_000_000), ("1.5GB", 1_500_000_000), ("800k", 800_000), ("1000", 1000)],
)
def test_sizes_are_read_in_powers_of_1000(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_a_size_that_is_not_one_says_what_is_expected() -> None:
    with pytest.raises(ValueError, match="expected a size such as 500MB"):
        parse_size("lots")
    with pytest.raises(ValueError, match="GENAI_TRACE_STORE_MAX_BYTES='lots' is invalid"):
        resolve({}, environ={"GENAI_TRACE_STORE_MAX_BYTES": "lots"})


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GENAI_TRACE_DB"}
    return subprocess.run(
        [sys.executable, "-m", "genai_trace.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_prune_by_hand_says_what_it_removed(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    store = SQLiteTraceStore(db, retention=None)
    now = time.time_ns()
    store.export([make_trace(i, start_ns=T0 + i) for i in range(300)])  # years ago
    store.export([make_trace(i, start_ns=now + i) for i in range(300, 600)])
    store.shutdown()

    result = cli("prune", "--older-than", "7d", "--db", str(db))
    assert (result.returncode, result.stderr) == (0, "")
    assert re.fullmatch(
        r"pruned 300 traces \(started over 7d ago\); 300 left, \d+\.\d MB in use\n", result.stdout
    )
    assert sorted(stored_ids(db)) == list(range(300, 600))

    file_before = db.stat().st_size
    result = cli("prune", "--max-traces", "100", "--vacuum", "--db", str(db))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(r"pruned 200 traces \(beyond the newest 100\); 100 left, .*", lines[0])
    assert re.fullmatch(r"vacuumed: the file went from \d+\.\d MB to \d+\.\d MB", lines[1])
    assert db.stat().st_size < file_before / 2
    assert sorted(stored_ids(db)) == list(range(500, 600))
    assert orphans(db) == (0, 0)


def test_prune_without_a_limit_or_a_store_is_one_clear_line(tmp_path: Path) -> None:
    result = cli("prune", "--db", str(tmp_path / "traces.db"))
    assert result.returncode == 2
    assert result.stderr == (
        "genai-trace: say what to prune: --older-than 7d, --max-size 500MB or --max-traces N\n"
    )
    result = cli("prune", "--max-size", "1GB", "--db", str(tmp_path / "traces.db"))
    assert result.returncode == 2
    assert (
        result.stderr
        == f"genai-trace: no trace store at {tmp_path / 'traces.db'}: nothing to prune\n"
    )
    result = cli("prune", "--max-size", "big", "--db", str(tmp_path / "traces.db"))
    assert result.stderr == (
        "genai-trace: --max-size: expected a size such as 500MB or 1GB, got 'big'\n"
    )


READER = """
import sys, threading
from pathlib import Path
from genai_trace.store import TraceQuery, TraceReader

reader, stop = TraceReader(sys.argv[1]), Path(sys.argv[2])
print("reading", flush=True)

def poll() -> None:  # the viewer's reads: the first page and what changed, over and over
    for _ in range(1_000_000):
        if stop.exists():
            return
        reader.page(TraceQuery(), 50, None)
        reader.changes(TraceQuery(), 0, 50)

threads = [threading.Thread(target=poll) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def test_a_small_wal_is_reused_between_upkeeps_not_emptied_after_each_batch(
    tmp_path: Path,
) -> None:
    # Emptied after every batch, each batch's pages would be written to a new file again.
    db = tmp_path / "traces.db"
    wal = tmp_path / "traces.db-wal"
    store = SQLiteTraceStore(db, retention=None)
    store.export([make_trace(0)])  # the first upkeep empties what a store was left with
    sizes = []
    for batch in range(3):  # three upkeeps: 1,000 traces each
        first = 1 + batch * 1000
        store.export([make_trace(i) for i in range(first, first + 1000)])
        sizes.append(wal.stat().st_size)
    store.shutdown()
    assert all(0 < size < WAL_TRUNCATE_BYTES for size in sizes), sizes
    assert TraceReader(db).count() == 3001


@pytest.mark.slow
def test_the_wal_stays_bounded_under_a_steady_writer_and_a_reader(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    wal = tmp_path / "traces.db-wal"
    stop = tmp_path / "stop"
    store = SQLiteTraceStore(db, retention=None)
    store.export([])
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(db), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert reader.stdout is not None and reader.stdout.readline() == "reading\n"
        largest = 0
        for batch in range(300):  # 60,000 traces, 300 MB written through the WAL
            first = batch * 200
            store.export([make_trace(i) for i in range(first, first + 200)])
            largest = max(largest, wal.stat().st_size if wal.exists() else 0)
        assert reader.poll() is None  # it read all along
    finally:
        stop.touch()
        reader.communicate(timeout=30)
        store.shutdown()
    # the size past which an upkeep empties it (8 MB) and a batch; without the checkpoints
    # the WAL passes 20 MB here and keeps growing
    assert largest < WAL_TRUNCATE_BYTES + 2_000_000
    assert TraceReader(db).count() == 60_000
