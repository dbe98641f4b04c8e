"""Feedback lands once in the local store, whatever the moment of its trace's life.

The four moments of the issue: the trace still open (the span is live), completed but not
yet stored (held in the export queue), already stored, and stored by another process. Also:
an id nobody knows is counted and reported, never raised; concurrency loses and duplicates
nothing.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import genai_trace
from genai_trace import Source
from genai_trace.exporters import OTLPTraceExporter
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader
from genai_trace.store.schema import SCHEMA_VERSION, open_for_writing
from tests.helpers.paths import REPO_ROOT
from tests.helpers.reliability.faults import FaultyBackend
from tests.helpers.sqlite import connect, fetch_all

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "traces.db"


def use_store(db: Path, **options: Any) -> SQLiteTraceStore:
    store = SQLiteTraceStore(db, retention=None, **options)
    genai_trace.configure(exporters=[store])
    return store


def rows(db: Path) -> list[tuple[Any, ...]]:
    return fetch_all(
        db,
        "SELECT trace_id, span_id, kind, name, value, source_type, source_id, rationale "
        "FROM feedback ORDER BY created_ns",
    )


def store_counts(store_name: str = "SQLiteTraceStore") -> dict[str, int]:
    counts = genai_trace.stats()["destinations"][f"genai_trace export: {store_name}"]
    # the feedback counters show once feedback was logged
    return {"feedback_stored": 0, "feedback_pending": 0, "feedback_lost": 0, **counts}


def wait_until(check: Any, what: str) -> None:
    for _ in range(200):  # bounded: 20 s at most
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def test_feedback_on_an_open_trace_goes_on_the_live_span_and_into_the_store(db: Path) -> None:
    use_store(db)
    with genai_trace.start_span("answer") as root:
        with genai_trace.start_span("retrieve") as child:
            genai_trace.log_feedback(
                root.trace_id, "relevance", 0.5, span_id=child.span_id, source=Source.code("r")
            )
        genai_trace.log_feedback(
            root.trace_id, "thumbs", True, rationale="good", source=Source.human("ada")
        )
    assert genai_trace.flush(10)

    assert rows(db) == [
        (root.trace_id, child.span_id, "feedback", "relevance", "0.5", "CODE", "r", None),
        (root.trace_id, None, "feedback", "thumbs", "true", "HUMAN", "ada", "good"),
    ]
    trace = genai_trace.get_trace(root.trace_id)
    assert trace is not None
    events = {
        span.name: [(e.name, dict(e.attributes)) for e in span.events] for span in trace.spans
    }
    (thumbs,) = events["answer"]
    assert thumbs[0] == "gen_ai.evaluation.result"
    assert {k: v for k, v in thumbs[1].items() if not k.startswith("genai_trace.")} == {
        "gen_ai.evaluation.name": "thumbs",
        "gen_ai.evaluation.score.value": 1.0,
        "gen_ai.evaluation.score.label": "true",
        "gen_ai.evaluation.explanation": "good",
    }
    ((_, attributes),) = events["retrieve"]
    assert attributes["gen_ai.evaluation.score.value"] == 0.5


def test_feedback_on_a_trace_completed_but_not_yet_stored_lands_once(db: Path) -> None:
    store = use_store(db)
    # The store's writer waits on its lock: the trace completes into the queue, unstored.
    with store._lock:
        with genai_trace.start_span("answer") as root:
            pass
        assert TraceReader(db).exists() is False or TraceReader(db).get(root.trace_id) is None
        genai_trace.log_feedback(root.trace_id, "thumbs", False)
    assert genai_trace.flush(10)
    assert rows(db) == [(root.trace_id, None, "feedback", "thumbs", "false", "HUMAN",
                         "default", None)]  # fmt: skip
    assert store_counts()["feedback_stored"] == 1


def test_feedback_on_a_stored_trace_by_its_client_request_id(db: Path) -> None:
    use_store(db)
    with genai_trace.start_span("answer") as root:
        genai_trace.update_current_trace(client_request_id="msg-7")
    assert genai_trace.flush(10)
    assert genai_trace.get_trace(root.trace_id) is not None

    genai_trace.log_feedback("msg-7", "thumbs", False, rationale="wrong city")
    genai_trace.log_expectation("msg-7", "answer", "Paris")

    found = genai_trace.get_feedback("msg-7")
    assert [(f.trace_id, f.kind, f.name, f.value, f.rationale) for f in found] == [
        (root.trace_id, "feedback", "thumbs", False, "wrong city"),
        (root.trace_id, "expectation", "answer", "Paris", None),
    ]
    assert genai_trace.get_feedback(root.trace_id) == found
    # the buffer of recent traces holds the trace as exported: its feedback is the store's
    trace = genai_trace.get_trace(root.trace_id)
    assert trace is not None and trace.feedback == tuple(found)
    assert TraceReader(db).get("msg-7").feedback == tuple(found)  # type: ignore[union-attr]


def write_trace_in_another_process(db: Path, request_id: str) -> str:
    script = textwrap.dedent(
        f"""
        import genai_trace
        from genai_trace.store import SQLiteTraceStore
        genai_trace.configure(exporters=[SQLiteTraceStore({str(db)!r}, retention=None)])
        with genai_trace.start_span("elsewhere") as span:
            genai_trace.update_current_trace(client_request_id={request_id!r})
        genai_trace.shutdown(10)
        print(span.trace_id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.slow
def test_feedback_a_day_later_from_another_process_lands_once(db: Path) -> None:
    trace_id = write_trace_in_another_process(db, "msg-1")
    script = textwrap.dedent(
        f"""
        import genai_trace
        from genai_trace.store import SQLiteTraceStore
        genai_trace.configure(exporters=[SQLiteTraceStore({str(db)!r}, retention=None)])
        genai_trace.log_feedback("msg-1", "thumbs", True, source=genai_trace.Source.human("bo"))
        genai_trace.shutdown(10)
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, check=True, timeout=60)
    assert rows(db) == [(trace_id, None, "feedback", "thumbs", "true", "HUMAN", "bo", None)]


@pytest.mark.slow
def test_feedback_before_its_trace_reaches_the_store_waits_for_it(db: Path) -> None:
    use_store(db, feedback_wait_s=60)
    genai_trace.log_feedback("msg-2", "thumbs", True)
    wait_until(lambda: store_counts()["feedback_pending"] == 1, "the feedback to wait")
    trace_id = write_trace_in_another_process(db, "msg-2")
    wait_until(lambda: store_counts()["feedback_stored"] == 1, "the feedback to be stored")
    assert rows(db) == [(trace_id, None, "feedback", "thumbs", "true", "HUMAN", "default", None)]
    assert store_counts()["feedback_pending"] == 0
    assert store_counts()["feedback_lost"] == 0


def test_feedback_for_an_unknown_id_is_counted_and_reported_not_raised(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    use_store(db, feedback_wait_s=0.2)
    with genai_trace.start_span("something"):
        pass
    with caplog.at_level(logging.WARNING, logger="genai_trace"):
        genai_trace.log_feedback("no-such-message", "thumbs", True)
        genai_trace.log_feedback("0af7651916cd43dd8448eb211c80319c", "thumbs", True)
        wait_until(lambda: store_counts()["feedback_lost"] == 2, "the loss to be counted")
    assert store_counts()["feedback_pending"] == 0
    assert rows(db) == []
    assert any("feedback lost" in r.getMessage() for r in caplog.records)
    assert "no-such-message" in caplog.text


def test_feedback_still_waiting_at_shutdown_is_counted_lost(db: Path) -> None:
    store = use_store(db)
    genai_trace.log_feedback("never-seen", "thumbs", True)
    genai_trace.shutdown(10)
    assert store.feedback.lost == 1
    assert store.feedback.pending == 0


def test_wrong_arguments_raise_with_what_to_pass() -> None:
    with pytest.raises(TypeError, match="trace_id must be"):
        genai_trace.log_feedback(42, "thumbs", True)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name must be a non-empty string"):
        genai_trace.log_feedback("t", "", True)
    with pytest.raises(TypeError, match="bool, number, string label or small dict"):
        genai_trace.log_feedback("t", "thumbs", None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="bool, number, string label or small dict"):
        genai_trace.log_feedback("t", "thumbs", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite number"):
        genai_trace.log_feedback("t", "score", float("nan"))
    with pytest.raises(ValueError, match="at most 10000"):
        genai_trace.log_feedback("t", "blob", {"text": "x" * 20_000})
    with pytest.raises(ValueError, match="span_id must be 16 hex digits"):
        genai_trace.log_feedback("t", "thumbs", True, span_id="abc")
    with pytest.raises(TypeError, match=r"Source.human"):
        genai_trace.log_feedback("t", "thumbs", True, source="ada")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Source\.type must be one of"):
        Source("ROBOT", "x")
    # an expectation may be a list
    assert genai_trace.log_expectation("t", "docs", ["a", "b"]).value == ["a", "b"]


def test_search_by_feedback_value_and_name(db: Path) -> None:
    use_store(db)
    ids = []
    for thumbs in (True, False, None):
        with genai_trace.start_span("answer") as span:
            if thumbs is not None:
                genai_trace.log_feedback(span.trace_id, "thumbs", thumbs)
        ids.append(span.trace_id)
    genai_trace.log_feedback(ids[2], "label", "off-topic")
    genai_trace.log_feedback(ids[2], "score", 1.0)

    def found(**filters: Any) -> list[str]:
        return [i.trace_id for i in genai_trace.search_traces(descending=False, **filters)]

    assert found(feedback={"thumbs": False}) == [ids[1]]
    assert found(feedback={"thumbs": True}) == [ids[0]]
    assert found(feedback_name="thumbs") == ids[:2]
    assert found(feedback={"label": "off-topic"}) == [ids[2]]
    assert found(feedback={"thumbs": True, "label": "off-topic"}) == []
    assert found(feedback={"score": 1}) == found(feedback={"score": 1.0}) == [ids[2]]
    assert found(feedback={"score": True}) == []  # a bool is not the number 1
    assert TraceReader(db).count(TraceQuery(feedback_name="thumbs")) == 2


def test_an_old_store_reads_without_feedback_and_migrates(tmp_path: Path) -> None:
    db = tmp_path / "traces.db"
    shutil.copyfile(FIXTURES / "store_v1.db", db)
    reader = TraceReader(db)
    (first, *_) = reader.search(TraceQuery(descending=False))
    # read-only readers meet the old store as it is: no table, no feedback, no crash
    assert reader.get_feedback(first.trace_id) == []
    assert reader.search(TraceQuery(feedback_name="thumbs")) == []
    assert reader.count(TraceQuery(feedback={"thumbs": True})) == 0
    assert reader.get(first.trace_id).feedback == ()  # type: ignore[union-attr]

    open_for_writing(db, timeout_s=5.0).close()
    with connect(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    connection.close()
    use_store(db)
    genai_trace.log_feedback(first.trace_id, "thumbs", True)
    assert [f.value for f in genai_trace.get_feedback(first.trace_id)] == [True]


def test_pruned_traces_take_their_feedback_with_them(db: Path) -> None:
    from genai_trace.store.retention import Retention, prune_store

    use_store(db)
    with genai_trace.start_span("old") as span:
        genai_trace.log_feedback(span.trace_id, "thumbs", True)
    assert genai_trace.flush(10)
    assert len(rows(db)) == 1
    genai_trace.shutdown(10)
    prune_store(db, Retention(max_bytes=0, max_age_s=1e-6), vacuum=False, timeout_s=5.0)
    assert rows(db) == []


@pytest.fixture
def backend() -> Iterator[FaultyBackend]:
    with FaultyBackend() as server:
        yield server


@pytest.mark.slow
def test_10000_feedback_from_16_threads_while_traces_export(
    db: Path, backend: FaultyBackend
) -> None:
    store = SQLiteTraceStore(db, retention=None)
    otlp = OTLPTraceExporter(backend.endpoint, phoenix_annotations=False)
    genai_trace.configure(exporters=[store, otlp])
    per_thread = 625
    logged: list[list[str]] = [[] for _ in range(16)]

    def work(index: int) -> None:
        for n in range(per_thread):
            if n % 5 == 0:  # a new trace every five feedback: some live, some completed
                with genai_trace.start_span(f"t{index}") as span:
                    logged[index].append(
                        genai_trace.log_feedback(span.trace_id, "live", n).feedback_id
                    )
                trace_id = span.trace_id
                continue
            logged[index].append(genai_trace.log_feedback(trace_id, "after", n).feedback_id)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert genai_trace.flush(60)

    expected = {fid for ids in logged for fid in ids}
    assert len(expected) == 16 * per_thread == 10_000
    with connect(db) as connection:
        stored = [fid for (fid,) in connection.execute("SELECT feedback_id FROM feedback")]
        per_trace = connection.execute(
            "SELECT count(*) FROM (SELECT trace_id FROM feedback GROUP BY trace_id "
            "HAVING count(*) = 5)"
        ).fetchone()
        (traces,) = connection.execute("SELECT count(*) FROM traces").fetchone()
    connection.close()
    assert len(stored) == len(set(stored)) == 10_000
    assert set(stored) == expected
    assert traces == 16 * per_thread // 5 == per_trace[0]
    counts = store_counts()
    assert (counts["feedback_stored"], counts["feedback_pending"], counts["feedback_lost"]) == (
        10_000,
        0,
        0,
    )
    assert counts["dropped"] == 0
    assert store.feedback.stored == 10_000

    # the OTLP receiver: each feedback once, as an event on its live span or on a span of its own
    sent = []
    for body in backend.bodies:
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    for event in span.events:
                        attributes = {a.key: a.value.string_value for a in event.attributes}
                        sent.append(attributes.get("genai_trace.feedback.id"))
    assert len(sent) == len(set(sent)) == 10_000
    assert set(sent) == expected
    (otlp_counts,) = [
        c for name, c in genai_trace.stats()["destinations"].items() if "OTLP" in name
    ]
    assert (otlp_counts["dropped"], otlp_counts["failed"], otlp_counts["feedback_failed"]) == (
        0,
        0,
        0,
    )


def test_the_memory_exporter_keeps_feedback_for_tests(
    exporter: genai_trace.exporters.InMemoryTraceExporter,
) -> None:
    with genai_trace.start_span("answer") as span:
        pass
    logged = genai_trace.log_feedback(span.trace_id, "thumbs", True)
    assert genai_trace.flush(10)
    assert exporter.get_feedback() == [logged]
    exporter.clear()
    assert exporter.get_feedback() == []


def test_feedback_is_redacted_like_span_values(db: Path) -> None:
    use_store(db)
    with genai_trace.start_span("answer") as span:
        pass
    key = "sk-proj-abcdefghijklmnopqrstuvwx"
    logged = genai_trace.log_feedback(
        span.trace_id, "label", f"leaked {key}", rationale=f"it printed {key}",
        metadata={"api_key": "hunter2", "note": "ok"},
    )  # fmt: skip
    (stored,) = genai_trace.get_feedback(span.trace_id)
    assert stored == logged
    assert key not in repr(stored) and "hunter2" not in repr(stored)
    assert stored.value == "leaked [REDACTED:api_key]"
    assert stored.metadata == {"api_key": "[REDACTED]", "note": "ok"}
