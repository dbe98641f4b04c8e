"""Editing the local store after the fact: tags set and removed, whole traces deleted.

Through the public API (``set_trace_tag``, ``delete_trace_tag``, ``delete_traces``) on a
store that real traced code wrote, read back through every reader.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

import genai_trace
from genai_trace.exporters import ExportResult
from genai_trace.exporters.otlp import OTLPTraceExporter
from genai_trace.store import SQLiteTraceStore
from tests.helpers.apps.stored_rag import fill, rag
from tests.helpers.reliability.faults import FaultyBackend
from tests.helpers.sqlite import connect


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTraceStore:
    store = SQLiteTraceStore(tmp_path / "traces.db")
    fill(store)
    return store


def trace_id_of(question: str) -> str:
    (info,) = genai_trace.search_traces(text=question, name="rag")
    return info.trace_id


def rows_of(store: SQLiteTraceStore, trace_id: str, seq: int) -> dict[str, int]:
    """How many rows of ``trace_id`` (row number ``seq``) each table holds."""
    with connect(store.path) as connection:
        tables = connection.execute(
            "SELECT m.name, c.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c "
            "WHERE m.type = 'table' AND c.name IN ('trace_id', 'seq') "
            "AND NOT (m.name = 'traces' AND c.name = 'seq') AND m.name NOT LIKE 'sqlite%' "
            "ORDER BY m.name"
        ).fetchall()
        return {
            table: connection.execute(
                f"SELECT count(*) FROM {table} WHERE {key} = ?",
                (trace_id if key == "trace_id" else seq,),
            ).fetchone()[0]
            for table, key in tables
        }


def last_row_number(store: SQLiteTraceStore) -> int:
    with connect(store.path) as connection:
        (seq,) = connection.execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'traces'"
        ).fetchone()
    connection.close()
    return int(seq)


def seq_of(store: SQLiteTraceStore, trace_id: str) -> int:
    with connect(store.path) as connection:
        (seq,) = connection.execute(
            "SELECT seq FROM traces WHERE trace_id = ?", (trace_id,)
        ).fetchone()
    connection.close()
    return int(seq)


def test_a_tag_set_and_removed_reads_back_everywhere(store: SQLiteTraceStore) -> None:
    trace_id = trace_id_of("beta")
    genai_trace.set_trace_tag(trace_id, "reviewed", "yes")
    genai_trace.set_trace_tag(trace_id, "q", "beta-2")  # replaces the traced value
    stored = store.get(trace_id)
    assert stored is not None
    assert stored.info.tags == {"q": "beta-2", "reviewed": "yes"}
    # The buffer of recent traces held the trace as traced: it reads the store now.
    live = genai_trace.get_trace(trace_id)
    assert live is not None and live.info.tags == {"q": "beta-2", "reviewed": "yes"}
    found = genai_trace.search_traces(tags={"reviewed": "yes"})
    assert [i.trace_id for i in found] == [trace_id]
    assert genai_trace.search_traces(tags={"q": "beta"}) == []

    assert genai_trace.delete_trace_tag(trace_id, "reviewed") is True
    assert genai_trace.delete_trace_tag(trace_id, "reviewed") is False
    assert genai_trace.search_traces(tags=["reviewed"]) == []
    again = genai_trace.get_trace(trace_id)
    assert again is not None and again.info.tags == {"q": "beta-2"}


def test_a_trace_still_queued_for_the_store_is_tagged_not_refused(tmp_path: Path) -> None:
    """The app just finished the trace; the store has not written it yet when the tag comes."""

    class SlowStore(SQLiteTraceStore):
        def __init__(self, path: Path) -> None:
            super().__init__(path)
            self.gate = threading.Event()

        def export(self, traces: Sequence[genai_trace.Trace]) -> ExportResult:
            self.gate.wait(30)
            return super().export(traces)

    store = SlowStore(tmp_path / "traces.db")
    genai_trace.configure(exporters=[store])
    store.gate.set()
    rag("first")  # the file exists before the slow write
    assert genai_trace.flush(10)
    store.gate.clear()
    rag("second")
    trace_id = genai_trace.get_last_trace_id()
    assert trace_id is not None
    opener = threading.Timer(0.2, store.gate.set)
    opener.start()
    try:
        genai_trace.set_trace_tag(trace_id, "reviewed", "yes")
    finally:
        opener.cancel()
        store.gate.set()
    stored = store.get(trace_id)
    assert stored is not None and stored.info.tags == {"q": "second", "reviewed": "yes"}


def test_an_unknown_trace_or_bad_argument_is_a_clear_error(store: SQLiteTraceStore) -> None:
    unknown = "4bf92f3577b34da6a3ce929d0e0e4736"
    with pytest.raises(genai_trace.TraceNotStoredError, match=f"no trace '{unknown}'"):
        genai_trace.set_trace_tag(unknown, "k", "v")
    with pytest.raises(LookupError):
        genai_trace.delete_trace_tag(unknown, "k")
    trace_id = trace_id_of("alpha")
    with pytest.raises(TypeError, match="value must be a string, got 3"):
        genai_trace.set_trace_tag(trace_id, "k", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="key must not be empty"):
        genai_trace.set_trace_tag(trace_id, "", "v")
    with pytest.raises(ValueError, match=r"trace ids or filters \(one of the two\), got neither"):
        genai_trace.delete_traces()
    with pytest.raises(ValueError, match=r"got both \(ids and state\)"):
        genai_trace.delete_traces([trace_id], state="OK")
    with pytest.raises(genai_trace.TraceStoreError, match="no trace store at"):
        genai_trace.set_trace_tag(trace_id, "k", "v", db_path=store.path.with_name("none.db"))


def test_delete_traces_by_id_removes_every_row_of_those_traces(store: SQLiteTraceStore) -> None:
    alpha, beta = trace_id_of("alpha"), trace_id_of("beta")
    # A per-trace table that a later migration adds goes with its traces too.
    with connect(store.path) as connection:
        connection.execute("CREATE TABLE notes (trace_id TEXT NOT NULL, note TEXT)")
        connection.executemany("INSERT INTO notes VALUES (?, 'n')", [(alpha,), (beta,)])
        connection.executemany(
            "INSERT INTO feedback (feedback_id, trace_id, kind, name, value, source_type, "
            "source_id, created_ns) VALUES (?, ?, 'feedback', 'thumbs', 'true', 'HUMAN', 'ada', 0)",
            [(f"f-{alpha}", alpha), (f"f-{beta}", beta)],
        )
    alpha_seq, beta_seq = seq_of(store, alpha), seq_of(store, beta)
    every = {
        "feedback": 1,
        "notes": 1,
        "span_types": 3,
        "trace_spans": 1,
        "trace_tags": 1,
        "traces": 1,
        "usage_calls": 1,
    }
    assert rows_of(store, alpha, alpha_seq) == every

    next_seq = last_row_number(store)
    assert genai_trace.delete_traces([alpha, "4bf92f3577b34da6a3ce929d0e0e4736"]) == 1
    assert rows_of(store, alpha, alpha_seq) == dict.fromkeys(every, 0)
    assert last_row_number(store) == next_seq  # row numbers are never given out twice
    assert rows_of(store, beta, beta_seq) == every
    assert genai_trace.get_trace(alpha) is None  # not from the buffer of recent traces
    assert genai_trace.delete_traces(alpha) == 0


def test_delete_traces_by_filter(store: SQLiteTraceStore) -> None:
    assert genai_trace.delete_traces(state="ERROR") == 1
    assert [i.request_preview for i in store.search()] == ["hello 100%_done", "beta", "alpha"]
    assert genai_trace.delete_traces(session_id="s-1", tags={"q": "beta"}) == 1
    assert genai_trace.delete_traces(name="rag", span_type="LLM") == 1
    assert [i.name for i in store.search()] == ["plain"]


def test_edits_say_once_that_otlp_destinations_keep_the_old(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from genai_trace._api import editing

    editing._said_local_only.clear()
    store = SQLiteTraceStore(tmp_path / "traces.db")
    with FaultyBackend() as backend:
        genai_trace.configure(exporters=[store, OTLPTraceExporter(backend.endpoint)])
        rag("alpha")
        trace_id = genai_trace.get_last_trace_id()
        assert trace_id is not None
        with caplog.at_level(logging.WARNING, logger="genai_trace"):
            genai_trace.set_trace_tag(trace_id, "k", "v")
            genai_trace.delete_trace_tag(trace_id, "k")
            assert genai_trace.delete_traces([trace_id]) == 1
        assert genai_trace.flush(10)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "genai_trace: trace edits and deletions change the local store only; the traces "
        f"already sent to {backend.endpoint} keep their tags and stay there"
    ]
