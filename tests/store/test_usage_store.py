"""Usage and cost in the local store: the rows written, the sums read, old stores.

Traces go through the real runtime into a real SQLite store; ``usage_summary`` (behind
``genai_trace.usage()`` and ``genai-trace stats --by``) must count each call once, price each
token kind, and read a store written before usage was kept as empty, never crash.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace.store.reader import TraceReader
from genai_trace.store.retention import Retention, prune_store
from genai_trace.store.schema import SCHEMA_VERSION, open_for_writing
from genai_trace.store.usage import UsageRow, usage_summary
from genai_trace.store.writer import SQLiteTraceStore
from tests.helpers.sqlite import connect

FIXTURES = Path(__file__).parent / "fixtures"
GPT_4O_COST = (800 * 2.5 + 200 * 1.25 + 100 * 10.0) * 1e-6  # 200 of 1000 input tokens cached
HAIKU_COST = (100 * 1.0 + 50 * 5.0) * 1e-6


def llm(name: str, model: str, *usage: int, cached: int = 0) -> None:
    with genai_trace.start_span(name, span_type=SpanType.CHAT_MODEL) as span:
        span.set_attribute("gen_ai.request.model", model)
        span.set_token_usage(*usage, cache_read_input_tokens=cached)


def fill(store: SQLiteTraceStore) -> None:
    genai_trace.configure(exporters=[store])
    with (
        genai_trace.context(session_id="s1", user_id="ada", tags={"team": "red"}),
        genai_trace.start_span("agent"),
    ):
        with genai_trace.start_span("manual llm", span_type=SpanType.LLM) as manual:
            llm("chat gpt-4o", "gpt-4o-2024-08-06", 1000, 100, cached=200)
            manual.set_token_usage(1000, 100, cache_read_input_tokens=200)  # the same call
        with genai_trace.start_span("search", span_type=SpanType.TOOL) as tool:
            tool.set_cost(0.01)
    with (
        genai_trace.context(session_id="s1", user_id="bob"),
        pytest.raises(RuntimeError),
        genai_trace.start_span("chat claude", span_type=SpanType.CHAT_MODEL) as span,
    ):
        span.set_attribute("gen_ai.request.model", "claude-haiku-4-5")
        span.set_token_usage(100, 50)
        raise RuntimeError("overloaded")
    with genai_trace.context(user_id="bob"):
        llm("chat mystery", "mystery-model", 10, 10)
    genai_trace.flush()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "traces.db"
    fill(SQLiteTraceStore(path))
    return path


def without_latency(rows: list[UsageRow]) -> list[tuple[object, ...]]:
    for row in rows:
        assert row.p50_ms is not None and row.p95_ms is not None
        assert row.p50_ms <= row.p95_ms
    return [
        (r.key, r.count, r.errors, r.input_tokens, r.output_tokens, r.cache_read_tokens,
         r.cost_usd and round(r.cost_usd, 12), r.unpriced)
        for r in rows
    ]  # fmt: skip


def test_by_model_each_call_counts_once_priced_by_kind(db: Path) -> None:
    assert without_latency(usage_summary(TraceReader(db), "model")) == [
        (None, 1, 0, 0, 0, 0, 0.01, 0),  # the search tool's own cost
        ("gpt-4o-2024-08-06", 1, 0, 1000, 100, 200, round(GPT_4O_COST, 12), 0),
        ("claude-haiku-4-5", 1, 1, 100, 50, 0, round(HAIKU_COST, 12), 0),
        ("mystery-model", 1, 0, 10, 10, 0, None, 1),  # no price: unknown, not 0
    ]


def test_by_session_user_and_tag_sum_whole_traces(db: Path) -> None:
    assert without_latency(usage_summary(TraceReader(db), "session")) == [
        ("s1", 2, 1, 1100, 150, 200, round(GPT_4O_COST + 0.01 + HAIKU_COST, 12), 0),
        (None, 1, 0, 10, 10, 0, None, 1),
    ]
    assert without_latency(usage_summary(TraceReader(db), "user")) == [
        ("ada", 1, 0, 1000, 100, 200, round(GPT_4O_COST + 0.01, 12), 0),
        ("bob", 2, 1, 110, 60, 0, round(HAIKU_COST, 12), 1),
    ]
    assert without_latency(usage_summary(TraceReader(db), "tag")) == [
        ("team=red", 1, 0, 1000, 100, 200, round(GPT_4O_COST + 0.01, 12), 0),
    ]


def test_since_leaves_out_what_started_before(db: Path) -> None:
    assert usage_summary(TraceReader(db), "model", since_s=3600) != []
    assert (
        usage_summary(TraceReader(db), "model", since_s=3600, now_s=4e9) == []
    )  # far in the future


def test_the_python_api_reads_the_same_rows(db: Path) -> None:
    rows = genai_trace.usage(by="user", db_path=db)
    assert rows == usage_summary(TraceReader(db), "user")
    assert rows[0].to_dict()["total_tokens"] == 1100
    with pytest.raises(ValueError, match="by must be one of model, session, user, tag"):
        genai_trace.usage(by="color", db_path=db)


def test_pruned_traces_take_their_calls_with_them(db: Path) -> None:
    prune_store(db, Retention(0, 0, 1), False, 5.0)  # keep the newest trace only
    assert [r.key for r in usage_summary(TraceReader(db), "model")] == ["mystery-model"]
    with connect(db) as connection:
        assert connection.execute("SELECT count(*) FROM usage_calls").fetchone() == (1,)
    connection.close()


def test_a_store_from_before_usage_reads_empty_then_migrates_and_counts_its_traces(
    tmp_path: Path,
) -> None:
    db = tmp_path / "traces.db"
    shutil.copyfile(FIXTURES / "store_v1.db", db)
    assert usage_summary(TraceReader(db), "model") == []  # read-only: no table yet, no crash
    before = usage_summary(TraceReader(db), "session")  # its traces, no calls: as once migrated
    open_for_writing(db, timeout_s=5.0).close()
    with connect(db) as connection:
        assert connection.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    connection.close()
    assert usage_summary(TraceReader(db), "model") == []  # calls of old traces are not recovered
    sessions = {r.key: (r.count, r.errors, r.input_tokens, r.cost_usd)
                for r in usage_summary(TraceReader(db), "session")}  # fmt: skip
    assert sessions == {"s-1": (2, 0, 0, None), "s-2": (1, 1, 0, None), None: (1, 0, 0, None)}
    assert before == usage_summary(TraceReader(db), "session")
