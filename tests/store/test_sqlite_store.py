"""The local SQLite store: what real traced code writes, and every way of reading it back."""

from __future__ import annotations

import json
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from opentelemetry import context as context_api

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader, TraceStoreError
from tests.helpers.apps.stored_rag import fill, rag, retrieve
from tests.helpers.paths import APPS
from tests.helpers.sqlite import connect


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTraceStore:
    store = SQLiteTraceStore(tmp_path / "nested" / "traces.db")
    fill(store)
    return store


def names(infos: list[genai_trace.TraceInfo]) -> list[str]:
    return [i.request_preview or "" for i in infos]


def test_store_is_wal_and_holds_whole_traces(store: SQLiteTraceStore) -> None:
    with connect(store.path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    infos = store.search()
    assert names(infos) == ["hello 100%_done", "fail", "beta", "alpha"]
    trace = store.get(infos[-1].trace_id)
    assert trace is not None
    assert [(s.name, s.span_type) for s in trace.spans] == [
        ("rag", "CHAIN"),
        ("retrieve", "RETRIEVER"),
        ("generate", "LLM"),
    ]
    live = genai_trace.get_trace(infos[-1].trace_id)
    assert live is not None
    assert trace.info == live.info
    assert trace.spans[2].inputs == {"q": "alpha", "docs": ["doc:alpha"]}
    assert trace.spans[2].token_usage == genai_trace.TokenUsage(10, 5, 15)
    assert dict(trace.spans[0].attributes)["tag.tags"] == ["q=alpha"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (TraceQuery(state="ERROR"), ["fail"]),
        (
            TraceQuery(state="OK", order_by="start_time", descending=False),
            ["alpha", "beta", "hello 100%_done"],
        ),
        (TraceQuery(name="plain"), ["hello 100%_done"]),
        (TraceQuery(span_type="LLM", descending=False), ["alpha", "beta", "fail"]),
        (TraceQuery(span_type="TOOL"), ["hello 100%_done"]),
        (TraceQuery(tags={"env": "prod"}), ["fail"]),
        (TraceQuery(tags={"q": "beta"}), ["beta"]),
        (TraceQuery(tags={"q": None}, limit=2), ["fail", "beta"]),
        (TraceQuery(session_id="s-1", descending=False), ["alpha", "beta"]),
        (TraceQuery(user_id="bob"), ["fail"]),
        (TraceQuery(text="ALP"), ["alpha"]),
        (TraceQuery(text="answer:be"), ["beta"]),
        (TraceQuery(text="100%_"), ["hello 100%_done"]),
        (TraceQuery(text="%"), ["hello 100%_done"]),
        (TraceQuery(order_by="tokens", limit=1), ["alpha"]),
        (TraceQuery(limit=1, offset=1), ["fail"]),
    ],
)
def test_search_filters(store: SQLiteTraceStore, query: TraceQuery, expected: list[str]) -> None:
    assert names(store.search(query)) == expected


def test_search_by_time_range(store: SQLiteTraceStore) -> None:
    infos = store.search(TraceQuery(descending=False))
    middle = infos[1].start_time_ns
    assert names(store.search(TraceQuery(start_time_ns=middle, descending=False))) == [
        "beta",
        "fail",
        "hello 100%_done",
    ]
    assert names(store.search(TraceQuery(end_time_ns=middle))) == ["alpha"]
    assert store.count() == 4
    assert store.count(TraceQuery(state="ERROR")) == 1


def test_public_search_traces_and_get_trace_read_the_default_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    genai_trace.configure()  # the zero-config default: .genai_trace/traces.db here
    rag("gamma")
    genai_trace.flush()
    assert (tmp_path / ".genai_trace" / "traces.db").exists()
    (info,) = genai_trace.search_traces(state="OK", span_type="LLM")
    assert info.request_preview == "gamma"
    genai_trace.configure(recent_traces=0)  # nothing in memory: get_trace reads the store
    trace = genai_trace.get_trace(info.trace_id)
    assert trace is not None and trace.info.trace_id == info.trace_id
    with pytest.raises(ValueError, match="order_by"):
        genai_trace.search_traces(order_by="color")


def test_get_by_client_request_id_and_unknown(store: SQLiteTraceStore) -> None:
    genai_trace.configure(exporters=[store])
    with genai_trace.start_span("with-id"):
        genai_trace.update_current_trace(client_request_id="req-9")
    genai_trace.flush()
    trace = store.get("req-9")
    assert trace is not None and trace.info.name == "with-id"
    assert store.get("f" * 32) is None


def test_a_late_part_of_a_trace_is_merged_into_its_row(tmp_path: Path) -> None:
    store = SQLiteTraceStore(tmp_path / "t.db")
    genai_trace.configure(exporters=[store])
    with genai_trace.start_span("request"):
        parent = context_api.get_current()
    token = context_api.attach(parent)
    try:
        retrieve("late")
    finally:
        context_api.detach(token)
    genai_trace.flush()
    (info,) = store.search()
    assert (info.name, info.span_count, info.complete) == ("request", 2, False)
    trace = store.get(info.trace_id)
    assert trace is not None and [s.name for s in trace.spans] == ["request", "retrieve"]


def test_missing_and_corrupt_stores_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(TraceStoreError, match="no trace store at"):
        SQLiteTraceStore(tmp_path / "absent.db").search()
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"this is not a database" * 100)
    with pytest.raises(TraceStoreError, match="corrupt"):
        SQLiteTraceStore(corrupt).search()


def test_a_corrupt_store_never_breaks_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"garbage" * 1000)
    store = SQLiteTraceStore(corrupt)
    genai_trace.configure(exporters=[store])
    assert retrieve("x") == ["doc:x"]
    genai_trace.flush()
    destination = genai_trace.stats()["destinations"]["genai_trace export: SQLiteTraceStore"]
    assert destination["failed"] == 1
    assert "cannot write the trace store" in caplog.text


def test_stats(store: SQLiteTraceStore) -> None:
    stats = store.stats()
    assert stats["traces"] == 4
    assert stats["spans"] == 10
    assert stats["by_state"] == {"OK": 3, "ERROR": 1}
    assert stats["by_span_type"] == {"CHAIN": 3, "LLM": 3, "RETRIEVER": 3, "TOOL": 1}
    assert stats["total_tokens"] == 10 + 5 + 10 + 4
    assert stats["top_names"][0] == ["rag", 3]


# --- two services, one store: parts of one trace from two processes ------------------------

SERVICES = APPS / "store_services.py"


def start_service(args: list[str], db: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "GENAI_TRACE_"))}
    env["GENAI_TRACE_DB"] = str(db)
    return subprocess.Popen(
        [sys.executable, str(SERVICES), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def first_line(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()  # type: ignore[union-attr]
    try:
        line = lines.get(timeout=30)
    except queue.Empty:
        line = ""
    if not line:
        process.kill()
        _, stderr = process.communicate(timeout=30)
        pytest.fail(f"the service printed nothing:\n{stderr}")
    return line.strip()


@pytest.mark.parametrize("order", ["b-first", "a-first"])
def test_two_services_writing_one_store_make_one_trace(tmp_path: Path, order: str) -> None:
    db = tmp_path / "traces.db"
    service_b = start_service(["serve", order], db)
    try:
        url = f"http://127.0.0.1:{first_line(service_b)}/answer"
        service_a = start_service(["call", url], db)
        stdout, stderr = service_a.communicate(timeout=60)
        assert service_a.returncode == 0, stderr
        trace_id = _last_line(stdout, stderr)
        store = SQLiteTraceStore(db)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # B's part lands after A's in "a-first"
            if store.count() and store.search()[0].span_count == 5:
                break
            time.sleep(0.05)
    finally:
        service_b.terminate()
        service_b.communicate(timeout=30)

    (info,) = store.search()
    trace = store.get(trace_id)
    assert trace is not None and trace.info == info
    tree = [("  " * depth + s.name, s.parent_is_remote) for s, depth in trace.walk()]
    assert tree == [
        ("a.ask", False),
        ("  a.call_b", False),
        ("    b.handle", True),
        ("      b_retrieve", False),
        ("      b_llm", False),
    ]
    spans = {s.name: s for s in trace.spans}
    assert [s.name for s in trace.spans] == [name.strip() for name, _ in tree]
    assert spans["b.handle"].parent_id == spans["a.call_b"].span_id
    assert spans["a.call_b"].parent_id == spans["a.ask"].span_id
    assert trace.root is spans["a.ask"]
    root = spans["a.ask"]
    assert (info.trace_id, info.name, info.state, info.span_count) == (trace_id, "a.ask", "OK", 5)
    last_end = max(s.end_time_ns or 0 for s in trace.spans)  # B's root ends last in a-first
    assert (info.start_time_ns, info.end_time_ns) == (root.start_time_ns, last_end)
    assert (last_end > root.end_time_ns) is (order == "a-first")  # type: ignore[operator]
    assert info.request_preview == json.dumps(
        {"url": url, "question": "what is otlp"}, separators=(",", ":")
    )
    assert info.response_preview == "WHAT IS OTLP"
    assert info.token_usage == genai_trace.TokenUsage(7, 3, 10)
    assert dict(info.tags) == {"service": "a", "caller": "yes"}
    assert dict(info.metadata) == {"b": 1}
    assert (info.session_id, info.user_id, info.complete) == ("chat-1", "ada", True)
    assert [i.trace_id for i in store.search(TraceQuery(name="a.ask"))] == [trace_id]
    assert store.search(TraceQuery(name="b.handle")) == []
    assert store.search(TraceQuery(tags={"caller": "yes"}))[0].trace_id == trace_id


def _last_line(stdout: str, stderr: str) -> str:
    lines = stdout.strip().splitlines()
    assert lines, stderr
    return lines[-1]


# --- search folds case beyond ASCII ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("über", ["Über uns"]),
        ("ÜBER", ["Über uns"]),
        ("ÉCOLE", ["l'école"]),
        ("STRASSE", ["Hauptstraße 1"]),  # full case folding: ß is ss
        ("ΣΟΦΊΑ", ["σοφία"]),
        ("plain", ["PLAIN ascii"]),
        ("nowhere", []),
    ],
)
def test_text_search_is_case_insensitive_beyond_ascii(
    tmp_path: Path, text: str, expected: list[str]
) -> None:
    db = tmp_path / "t.db"
    genai_trace.configure(exporters=[SQLiteTraceStore(db)])
    for question in ["Über uns", "l'école", "Hauptstraße 1", "σοφία", "PLAIN ascii", "other"]:
        with genai_trace.start_span("ask", inputs=question):
            pass
    assert genai_trace.flush(10)

    found = genai_trace.search_traces(text=text, db_path=db)
    assert names(found) == expected
    viewer = TraceReader(db).page(TraceQuery(text=text), limit=10, before=None)
    assert [t["request_preview"] for t in viewer["traces"]] == expected
    assert viewer["total"] == len(expected)
    listed = subprocess.run(
        [sys.executable, "-m", "genai_trace.cli", "list", "--db", str(db), "--text", text],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert all(e in listed for e in expected) and ("other" in listed) is False
    (name,) = {i.name for i in SQLiteTraceStore(db).search(TraceQuery(text="ASK"))}
    assert name == "ask"  # the name is searched too


def test_every_trace_of_a_big_batch_keeps_its_own_spans_beside_a_merged_part(
    tmp_path: Path,
) -> None:
    # More rows than one INSERT statement takes, a stored trace's late part in the middle:
    # each new row's seq (the key of its spans and span types) must be its own.
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    from genai_trace._runtime.builder import build_trace

    now = time.time_ns()  # within the store's retention

    def trace_of(number: int, span_id: int, parent: int | None = None) -> genai_trace.Trace:
        def context(of: int) -> SpanContext:
            return SpanContext(number + 1, of, is_remote=False, trace_flags=TraceFlags(1))

        span = ReadableSpan(
            name=f"span-{number}-{span_id}",
            context=context(span_id),
            parent=None if parent is None else context(parent),
            start_time=now + number,
            end_time=now + number + 10,
        )
        return build_trace([span])

    store = SQLiteTraceStore(tmp_path / "t.db")
    assert store.export([trace_of(7, 1)]) is genai_trace.ExportResult.SUCCESS
    batch = [trace_of(n, 1) for n in range(1000, 3500)]
    batch.insert(1200, trace_of(7, 2, parent=1))  # the stored trace's late part
    assert store.export(batch) is genai_trace.ExportResult.SUCCESS
    for number in (1000, 2199, 2200, 3000, 3499):
        trace = store.get(f"{number + 1:032x}")
        assert trace is not None and [s.name for s in trace.spans] == [f"span-{number}-1"]
    merged = store.get(f"{8:032x}")
    assert merged is not None and sorted(s.name for s in merged.spans) == ["span-7-1", "span-7-2"]
    assert len(store.search(TraceQuery(limit=10_000))) == 2501
    with connect(tmp_path / "t.db") as connection:
        counts = connection.execute(
            "SELECT COUNT(*), COUNT(DISTINCT seq) FROM span_types"
        ).fetchone()
    assert counts == (2501, 2501)


def test_a_store_or_reader_let_go_unclosed_closes_its_connections(tmp_path: Path) -> None:
    # Python 3.13 warns (ResourceWarning) of a SQLite connection collected open.
    import gc

    store = SQLiteTraceStore(tmp_path / "t.db")
    assert store.export([]) is genai_trace.ExportResult.SUCCESS
    store.search()  # a read: its connection is kept for the next one
    writer = store._writer
    (_, _, reader) = store._connections._idle[0]
    assert writer is not None
    del store
    gc.collect()
    for connection in (writer, reader):
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            connection.execute("SELECT 1")
