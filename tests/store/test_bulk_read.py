"""Reading many whole traces at once (``TraceReader.get_many``), as ``send`` and ``export`` do."""

from __future__ import annotations

from pathlib import Path

import pytest

import genai_trace
from genai_trace.store import SQLiteTraceStore, TraceQuery, TraceReader
from tests.helpers.apps.stored_rag import fill, rag


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTraceStore:
    store = SQLiteTraceStore(tmp_path / "traces.db")
    fill(store)
    for n in range(1000):  # more ids than one IN (...) takes
        rag(f"q{n}")
    assert genai_trace.flush(30)
    return store


def test_get_many_is_get_for_each_id_in_the_order_given(store: SQLiteTraceStore) -> None:
    ids = [info.trace_id for info in store.search(TraceQuery(limit=2000))]
    assert len(ids) == 1004
    wanted = [*reversed(ids), "4bf92f3577b34da6a3ce929d0e0e4736"]  # and one not stored
    assert store.get_many(wanted) == [store.get(trace_id) for trace_id in reversed(ids)]
    assert store.get_many([]) == []


def test_get_many_reads_in_one_transaction(
    store: SQLiteTraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [info.trace_id for info in store.search(TraceQuery(limit=300))]
    opened: list[object] = []
    real = TraceReader.snapshot

    def counting(self: TraceReader) -> object:
        opened.append(self)
        return real(self)

    monkeypatch.setattr(TraceReader, "snapshot", counting)
    assert len(store.get_many(ids)) == 300
    assert len(opened) == 1
