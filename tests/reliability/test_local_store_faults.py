"""The local SQLite store under faults: WAL, SIGKILL mid-write, two writers, corrupt and locked.

The app never sees a store error; a writer killed mid-write loses nothing it had committed;
two processes write one store side by side; a corrupt or locked file is a clear message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import sqlite3
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import genai_trace
from genai_trace import ExportResult
from genai_trace._runtime import state as _runtime
from genai_trace.exporters.otlp import OTLPTraceExporter
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceStoreError
from genai_trace.store.schema import open_for_writing
from genai_trace.testing import capture_traces
from tests.helpers.reliability.faults import WAIT_S, Child, FaultyBackend, wait_until
from tests.helpers.sqlite import connect

Spawn = Callable[..., Child]
SLACK_S = 10.0


@genai_trace.trace
def unit(i: int) -> int:
    return i


def request_ids(db: Path) -> list[str]:
    infos = SQLiteTraceStore(db).search(TraceQuery(limit=1_000_000, descending=False))
    return [info.client_request_id or "" for info in infos]


def store_counts() -> dict[str, int]:
    (counts,) = genai_trace.stats()["destinations"].values()
    return dict(counts)


def our_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "genai_trace" and r.levelno == logging.WARNING
    ]


def test_the_store_is_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    genai_trace.configure(exporters=[SQLiteTraceStore(db)])
    unit(1)
    assert genai_trace.flush(WAIT_S)
    with connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    connection.close()


def test_a_writer_killed_mid_write_loses_no_committed_trace(spawn: Spawn, tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    child = spawn(
        f"""
        import genai_trace
        from genai_trace.store import SQLiteTraceStore

        @genai_trace.trace
        def write(i):
            genai_trace.update_current_trace(client_request_id=f"req-{{i}}")
            return "x" * 2000

        genai_trace.configure(exporters=[SQLiteTraceStore({str(db)!r})])
        for i in range(100_000):
            write(i)
            if i % 20 == 19:
                assert genai_trace.flush(30)
                print(i, flush=True)  # every trace up to i is committed
        """
    )
    committed = -1
    while committed < 400:
        committed = int(child.read_line())
    child.send(signal.SIGKILL)  # while it goes on writing
    child.finish()
    assert child.returncode == -signal.SIGKILL

    stored = set(request_ids(db))
    assert {f"req-{i}" for i in range(committed + 1)} <= stored
    with connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    connection.close()


def test_two_processes_write_one_store_at_once(spawn: Spawn, tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    go = tmp_path / "go"
    script = f"""
        import json, os, sys, time
        import genai_trace
        from genai_trace.store import SQLiteTraceStore

        who = sys.argv[0]
        @genai_trace.trace
        def write(i):
            genai_trace.update_current_trace(client_request_id=f"{{os.getpid()}}-{{i}}")
            return i

        genai_trace.configure(exporters=[SQLiteTraceStore({str(db)!r})])
        print("ready", flush=True)
        for _ in range(3000):  # wait for the start, at most 30 s
            if os.path.exists({str(go)!r}):
                break
            time.sleep(0.01)
        for i in range(300):
            write(i)
            if i % 10 == 9:
                genai_trace.flush(30)  # many small transactions, interleaved with the other
        assert genai_trace.flush(30)
        (counts,) = genai_trace.stats()["destinations"].values()
        print(json.dumps(counts), flush=True)
        """
    first, second = spawn(script), spawn(script)
    assert first.read_line() == second.read_line() == "ready"
    go.touch()
    for child in (first, second):
        assert json.loads(child.read_line()) == {
            "exported": 300,
            "failed": 0,
            "dropped": 0,
            "pruned": 0,
        }
        assert child.finish() == ""
        assert child.returncode == 0
    stored = request_ids(db)
    assert len(stored) == len(set(stored)) == 600
    assert {rid.split("-")[0] for rid in stored} == {
        str(first.process.pid),
        str(second.process.pid),
    }


def test_a_corrupt_store_is_reported_once_and_never_reaches_the_app(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "traces.db"
    db.write_bytes(b"not a database " * 1000)
    genai_trace.configure(exporters=[SQLiteTraceStore(db)])
    for i in range(5):
        assert unit(i) == i
        assert genai_trace.flush(WAIT_S)
    assert store_counts() == {"exported": 0, "failed": 5, "dropped": 0, "pruned": 0}
    assert our_warnings(caplog) == [
        f"genai_trace: cannot write the trace store {db} (file is not a database: the file is "
        "corrupt or not a genai-trace store; move it away): 1 traces not stored since the "
        "start; see genai_trace.stats()"
    ]
    with pytest.raises(TraceStoreError, match="not corrupt"):
        genai_trace.search_traces(db_path=db)

    db.unlink()  # moved away: the next traces are stored again
    unit(6)
    assert genai_trace.flush(WAIT_S)
    assert store_counts() == {"exported": 1, "failed": 5, "dropped": 0, "pruned": 0}


@pytest.fixture
def locked_store(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    """A store that another connection holds with an exclusive lock."""
    db = tmp_path / "traces.db"
    creator = SQLiteTraceStore(db)
    creator.export([])  # creates the file and its schema
    creator.shutdown()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("DELETE FROM traces")
    try:
        yield db, holder
    finally:
        holder.close()


def test_a_locked_store_is_a_clear_error_and_traces_flow_once_it_is_free(
    locked_store: tuple[Path, sqlite3.Connection], caplog: pytest.LogCaptureFixture
) -> None:
    db, holder = locked_store
    genai_trace.configure(exporters=[SQLiteTraceStore(db, busy_timeout_s=0.2)])
    assert unit(1) == 1
    assert genai_trace.flush(WAIT_S)
    assert store_counts() == {"exported": 0, "failed": 1, "dropped": 0, "pruned": 0}
    assert our_warnings(caplog) == [
        f"genai_trace: cannot write the trace store {db} (database is locked: another process "
        "holds it locked): 1 traces not stored since the start; see genai_trace.stats()"
    ]
    with pytest.raises(TraceStoreError, match="another process holds it locked"):
        SQLiteTraceStore(db, busy_timeout_s=0.2).search()

    holder.close()  # the other process is done
    assert unit(2) == 2
    assert genai_trace.flush(WAIT_S)
    assert store_counts() == {"exported": 1, "failed": 1, "dropped": 0, "pruned": 0}


def test_shutdown_is_not_held_by_a_write_waiting_for_a_lock(
    locked_store: tuple[Path, sqlite3.Connection],
) -> None:
    db, _ = locked_store
    genai_trace.configure(exporters=[SQLiteTraceStore(db, busy_timeout_s=WAIT_S * 4)])
    rt = _runtime.current()
    assert rt is not None
    (destination,) = rt.pipeline.destinations
    unit(1)
    assert wait_until(lambda: destination.queued == 0)  # the write is waiting on the lock

    started = time.monotonic()
    genai_trace.shutdown(timeout_s=0.5)
    assert time.monotonic() - started < 0.5 + SLACK_S
    # The store's own shutdown stops the waiting write: counted, not hung for minutes.
    assert wait_until(lambda: destination.failed == 1)


@pytest.fixture
def write_locked_store(tmp_path: Path) -> Iterator[tuple[Path, sqlite3.Connection]]:
    """A current store whose write lock another connection holds (readers still read)."""
    db = tmp_path / "traces.db"
    creator = SQLiteTraceStore(db)
    creator.export([])  # creates the file and its schema
    creator.shutdown()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield db, holder
    finally:
        holder.close()


def test_opening_a_current_store_for_writing_waits_for_no_writer(
    write_locked_store: tuple[Path, sqlite3.Connection],
) -> None:
    # Forked workers flushing at exit all open the store at once: an open that took the
    # write lock (the schema, its version) queued each of them for it twice.
    db, _ = write_locked_store
    connection = open_for_writing(db, timeout_s=0.0)
    try:
        assert connection.execute("SELECT count(*) FROM traces").fetchone() == (0,)
    finally:
        connection.close()


def test_a_forked_worker_whose_exit_flush_runs_out_of_time_says_what_it_lost(
    spawn: Spawn, write_locked_store: tuple[Path, sqlite3.Connection]
) -> None:
    db, holder = write_locked_store
    child = spawn(
        f"""
        import multiprocessing
        import genai_trace
        from tests.helpers.reliability.child_app import work

        genai_trace.configure(db_path={str(db)!r}, exit_flush_timeout_s=1.0)
        worker = multiprocessing.get_context("fork").Process(target=work, args=(1,))
        worker.start()
        worker.join(60)
        print(worker.exitcode, flush=True)
        """
    )
    assert child.read_line() == "0"
    stderr = child.finish()
    holder.rollback()
    # The worker's one trace was being written (waiting for the lock) when time ran out.
    assert stderr.splitlines() == [
        "genai_trace: genai_trace export: SQLiteTraceStore did not finish within 1.0s; 1 traces "
        "still being exported (lost if the process ends now), 0 queued traces are dropped",
        "genai_trace: pending traces were not all exported within 1.0s at exit "
        "(exit_flush_timeout_s); see the counts logged above",
    ]
    assert SQLiteTraceStore(db).search() == []


# --- one bad trace never costs another ----------------------------------------------------


class AskHandler(BaseHTTPRequestHandler):
    """A traced JSON endpoint, as an app would write it."""

    @genai_trace.trace(name="http.ask")
    def ask(self, body: dict[str, Any]) -> str:
        genai_trace.update_current_trace(session_id=body["question"][:4])
        return str(body["question"]).upper()

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        payload = json.dumps({"answer": self.ask(body)}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def otlp_spans(backend: FaultyBackend) -> list[Any]:
    spans = []
    for body in backend.bodies:
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        spans.extend(
            span
            for resource_spans in message.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        )
    return spans


def test_a_lone_surrogate_from_a_request_body_is_kept_as_a_replacement_character(
    tmp_path: Path, backend: FaultyBackend
) -> None:
    db = tmp_path / "traces.db"
    genai_trace.configure(
        exporters=[SQLiteTraceStore(db), OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S)]
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), AskHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    # A browser cut an emoji in half: the JSON escape of its first half alone.
    bodies = [f'{{"question": "good {i}"}}' for i in range(300)]
    bodies.insert(150, '{"question": "bad \\ud83d emoji"}')
    try:
        for body in bodies:
            request = urllib.request.Request(url, data=body.encode(), method="POST")
            with urllib.request.urlopen(request, timeout=WAIT_S) as response:
                response.read()
    finally:
        server.shutdown()
        server.server_close()
    assert genai_trace.flush(WAIT_S)

    infos = SQLiteTraceStore(db).search(TraceQuery(limit=1000, descending=False))
    questions = [json.loads(b)["question"].replace("\ud83d", "\ufffd") for b in bodies]
    expected = [
        json.dumps({"body": {"question": q}}, separators=(",", ":"), ensure_ascii=False)
        for q in questions
    ]
    assert [i.request_preview for i in infos] == expected  # every trace, in order
    assert [i.response_preview for i in infos][150] == "BAD \ufffd EMOJI"
    assert infos[150].session_id == "bad "
    assert wait_until(lambda: len(otlp_spans(backend)) == len(bodies))
    bad = [s for s in otlp_spans(backend) if "emoji" in str(s.attributes)]
    (span,) = bad
    values = {a.key: a.value.string_value for a in span.attributes}
    assert values["input.value"] == expected[150]
    assert values["output.value"] == "BAD \ufffd EMOJI"
    counts = genai_trace.stats()["destinations"]
    assert [c["failed"] for c in counts.values()] == [0, 0]


def test_a_trace_the_store_refuses_costs_only_itself(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "traces.db"
    store = SQLiteTraceStore(db)
    genai_trace.configure(exporters=[store])
    foreign = trace_api.get_tracer("another.instrumentation")
    for i in range(50):
        with genai_trace.start_span("unit", inputs=f"trace {i}"):
            if i == 20:  # an instrumentation with a broken clock: past SQLite's 64 bits
                foreign.start_span("broken", start_time=2**70).end(end_time=2**70 + 1)
            if i == 30:  # another one that records half an emoji
                with foreign.start_as_current_span("odd", attributes={"text": "x \udc00 y"}):
                    pass
    assert genai_trace.flush(WAIT_S)

    stored = SQLiteTraceStore(db).search(TraceQuery(limit=100, descending=False))
    assert [i.request_preview for i in stored] == [f"trace {i}" for i in range(50) if i != 20]
    odd = SQLiteTraceStore(db).get(stored[30 - 1].trace_id)
    assert odd is not None
    assert [dict(s.attributes).get("text") for s in odd.spans] == [None, "x \ufffd y"]
    assert store_counts() == {"exported": 49, "failed": 1, "dropped": 0, "pruned": 0}
    (warning,) = [w for w in our_warnings(caplog) if "refused trace" in w]
    assert "OverflowError" in warning and str(db) in warning


def test_neighbours_in_the_batch_of_a_refused_trace_are_all_stored(tmp_path: Path) -> None:
    with capture_traces() as traces:
        for i in range(200):
            unit(i)
    bad = dataclasses.replace(traces[100].info, start_time_ns=2**70)
    batch = [*traces[:100], dataclasses.replace(traces[100], info=bad), *traces[101:]]
    store = SQLiteTraceStore(tmp_path / "traces.db")
    assert store.export(batch) is ExportResult.SUCCESS
    assert store.take_rejected() == 1
    ids = [i.trace_id for i in store.search(TraceQuery(limit=1000, descending=False))]
    assert ids == [t.info.trace_id for t in traces if t is not traces[100]]
