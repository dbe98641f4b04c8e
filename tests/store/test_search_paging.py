"""``search_traces`` as a query API: orders, page tokens, ``to_dict`` and ``to_pandas``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace._semantics.model import info_from_dict
from genai_trace.store import SQLiteTraceStore
from genai_trace.store.reader import ORDER_BY
from tests.helpers.apps.stored_rag import rag


def traced(questions: list[str]) -> None:
    for question in questions:
        if question.startswith("plain"):  # no tokens, another name
            with genai_trace.start_span(question, span_type=SpanType.TOOL):
                pass
        else:
            rag(question)


@pytest.fixture
def store(tmp_path: Path) -> SQLiteTraceStore:
    store = SQLiteTraceStore(tmp_path / "traces.db")
    genai_trace.configure(exporters=[store])
    # Token totals tie (10 + the question's length); plain traces have none (NULL).
    traced(["aa", "bb", "plain-1", "ccc", "plain-2", "dd", "eeee", "plain-3", "f", "gg"])
    assert genai_trace.flush(10)
    return store


def paged(limit: int, **search: object) -> list[genai_trace.TraceInfo]:
    found: list[genai_trace.TraceInfo] = []
    page = genai_trace.search_traces(limit=limit, **search)  # type: ignore[arg-type]
    found.extend(page)
    for _ in range(100):
        if page.next_page_token is None:
            return found
        page = genai_trace.search_traces(
            limit=limit,
            page_token=page.next_page_token,
            **search,  # type: ignore[arg-type]
        )
        assert len(page) > 0
        found.extend(page)
    raise AssertionError("paging did not end")


def sort_value(info: genai_trace.TraceInfo, order: str) -> object:
    usage = info.token_usage
    return {
        "start_time": info.start_time_ns,
        "duration": info.duration_ms,
        "tokens": None if usage is None else usage.total_tokens,
        "name": info.name,
    }[order]


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
@pytest.mark.parametrize("order", ORDER_BY)
def test_pages_follow_every_order_without_repeats_or_gaps(
    store: SQLiteTraceStore, order: str, direction: str
) -> None:
    order_by = f"{order} {direction}"
    whole = genai_trace.search_traces(order_by=order_by, limit=100)
    assert len(whole) == 10 and whole.next_page_token is None
    for limit in (1, 3, 4):
        assert [i.trace_id for i in paged(limit, order_by=order_by)] == [i.trace_id for i in whole]
    values = [sort_value(info, order) for info in whole]
    present = [v for v in values if v is not None]
    assert values == present + [None] * (len(values) - len(present))  # missing ones last
    assert present == sorted(present, reverse=direction == "DESC")  # type: ignore[type-var]


def test_pages_with_filters_and_the_direction_argument(store: SQLiteTraceStore) -> None:
    found = paged(2, name="rag", order_by="tokens", descending=False)
    tokens = [i.token_usage.total_tokens for i in found if i.token_usage is not None]
    assert tokens == [11, 12, 12, 12, 12, 13, 14]


def test_traces_stored_while_paging_neither_repeat_nor_shift_rows(
    store: SQLiteTraceStore,
) -> None:
    before = {i.trace_id for i in genai_trace.search_traces(limit=100)}
    for order_by in ("start_time DESC", "name ASC", "tokens DESC"):
        page = genai_trace.search_traces(order_by=order_by, limit=4)
        seen = [i.trace_id for i in page]
        traced(["hh", "plain-4"])  # newer: before the page in time order, anywhere by name
        while page.next_page_token is not None:
            page = genai_trace.search_traces(
                order_by=order_by, limit=4, page_token=page.next_page_token
            )
            seen.extend(i.trace_id for i in page)
        assert len(seen) == len(set(seen)), order_by
        assert before <= set(seen), order_by
    newest_first = [i.trace_id for i in paged(4)]
    assert len(newest_first) == 16 and set(newest_first[6:]) == before


def test_bad_orders_and_tokens_are_clear_errors(store: SQLiteTraceStore) -> None:
    for order_by in ("latency", "duration sideways", "name ASC DESC", ""):
        with pytest.raises(ValueError, match="order_by must be one of start_time, duration, "):
            genai_trace.search_traces(order_by=order_by)
    token = genai_trace.search_traces(limit=2).next_page_token
    assert token is not None
    with pytest.raises(ValueError, match="page_token belongs to another search"):
        genai_trace.search_traces(limit=2, page_token=token, state="OK")
    with pytest.raises(ValueError, match="page_token belongs to another search"):
        genai_trace.search_traces(limit=2, page_token=token, order_by="start_time ASC")
    with pytest.raises(ValueError, match="is not a next_page_token that search_traces"):
        genai_trace.search_traces(page_token="not a token")
    with pytest.raises(ValueError, match="limit must be a whole number of at least 1"):
        genai_trace.search_traces(limit=0)


def test_trace_info_to_dict_is_the_list_json_shape(store: SQLiteTraceStore) -> None:
    info = genai_trace.search_traces(name="rag", limit=1)[0]
    data = info.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["trace_id"] == info.trace_id
    assert data["tags"] == {"q": "gg"}
    assert data["token_usage"] == {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12}
    assert data["duration_ms"] == info.duration_ms
    assert info_from_dict(data) == info


def test_to_pandas_is_a_table_of_the_traces(store: SQLiteTraceStore) -> None:
    pandas = pytest.importorskip("pandas")
    found = genai_trace.search_traces(order_by="start_time ASC")
    frame = found.to_pandas()
    assert list(frame["trace_id"]) == [i.trace_id for i in found]
    assert list(frame.columns[:6]) == [
        "trace_id",
        "name",
        "state",
        "start_time",
        "end_time",
        "duration_ms",
    ]
    assert str(frame["start_time"].dtype) == "datetime64[ns, UTC]"
    first = frame.iloc[0]
    assert first["start_time"] == pandas.Timestamp(found[0].start_time_ns, unit="ns", tz="UTC")
    assert (first["name"], first["total_tokens"], first["tags"]) == ("rag", 12, {"q": "aa"})
    assert pandas.isna(frame.iloc[2]["total_tokens"])  # plain-1: no tokens
    assert genai_trace.search_traces(name="none").to_pandas().shape == (0, len(frame.columns))


def test_to_pandas_without_pandas_names_the_extra(
    store: SQLiteTraceStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas fails, as if absent
    with pytest.raises(ImportError, match=r'pip install "genai-trace\[pandas\]"'):
        genai_trace.search_traces().to_pandas()
