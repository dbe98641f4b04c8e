"""The trace data model, built by hand (``genai_trace._semantics.model``): no OTel involved."""

from __future__ import annotations

import dataclasses
import json

import pytest

from genai_trace._semantics.model import (
    SpanEvent,
    SpanRecord,
    TokenUsage,
    Trace,
    TraceInfo,
    find_root,
)

TRACE_ID = "ab" * 16


def record(
    span_id: str,
    parent_id: str | None = None,
    name: str | None = None,
    *,
    start: int = 0,
    end: int | None = 1_000_000,
    parent_is_remote: bool = False,
) -> SpanRecord:
    return SpanRecord(
        trace_id=TRACE_ID,
        span_id=span_id,
        parent_id=parent_id,
        name=name or span_id,
        span_type="CHAIN",
        start_time_ns=start,
        end_time_ns=end,
        status="UNSET",
        status_message=None,
        inputs=None,
        outputs=None,
        attributes={},
        parent_is_remote=parent_is_remote,
    )


def info(**changes: object) -> TraceInfo:
    base = TraceInfo(
        trace_id=TRACE_ID,
        name="root",
        state="OK",
        start_time_ns=1_000,
        end_time_ns=2_501_000,
        request_preview=None,
        response_preview=None,
        span_count=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_token_usage_adds_up_field_by_field() -> None:
    assert TokenUsage(1, 2, 3) + TokenUsage(10, 20, 30) == TokenUsage(11, 22, 33)
    assert TokenUsage() == TokenUsage(0, 0, 0)


def test_durations_are_milliseconds_and_none_while_unfinished() -> None:
    assert info().duration_ms == 2.5
    assert info(end_time_ns=None).duration_ms is None
    assert record("a", start=1_000_000, end=3_500_000).duration_ms == 2.5
    assert record("a", end=None).duration_ms is None


def test_records_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        record("a").name = "b"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        info().state = "ERROR"  # type: ignore[misc]


def test_root_prefers_the_local_root_then_the_first_orphan() -> None:
    local = record("root")
    remote_child = record("server", "upstream", parent_is_remote=True)
    orphan = record("late", "gone")
    assert find_root([orphan, local]) is local
    assert find_root([orphan, remote_child]) is remote_child
    assert find_root([record("child", "late"), orphan]) is orphan
    assert find_root([]) is None
    assert Trace(info=info(), spans=(orphan, local)).root is local


def test_walk_children_and_get_span_on_a_forest() -> None:
    # A partial trace: two orphans, each with a child. Orphans walk as roots.
    spans = (record("o1", "gone"), record("c1", "o1"), record("o2", "gone"), record("c2", "o2"))
    trace = Trace(info=info(span_count=4), spans=spans)
    assert [(s.span_id, depth) for s, depth in trace.walk()] == [
        ("o1", 0),
        ("c1", 1),
        ("o2", 0),
        ("c2", 1),
    ]
    assert trace.children("o2") == [spans[3]]
    assert trace.get_span("c1") is spans[1]


def test_get_span_prefers_an_id_over_a_name() -> None:
    named_like_an_id = record("s1", name="s2")
    real = record("s2", "s1", name="real")
    trace = Trace(info=info(), spans=(named_like_an_id, real))
    assert trace.get_span("s2") is real
    assert trace.get_span("real") is real


def test_walk_of_a_deep_trace_does_not_recurse() -> None:
    spans = tuple(record(f"s{i}", f"s{i - 1}" if i else None) for i in range(5000))
    walked = list(Trace(info=info(), spans=spans).walk())
    assert walked[-1] == (spans[-1], 4999)


def test_to_dict_is_plain_data_and_to_json_its_text() -> None:
    event = SpanEvent("exception", 5, {"exception.type": "ValueError"})
    span = dataclasses.replace(
        record("a"), inputs={"q": [1, 2]}, events=(event,), token_usage=TokenUsage(1, 1, 2)
    )
    trace = Trace(info=info(tags={"k": "v"}, span_count=1), spans=(span,))
    as_dict = trace.to_dict()
    assert as_dict["spans"][0]["events"] == [
        {"name": "exception", "timestamp_ns": 5, "attributes": {"exception.type": "ValueError"}},
    ]
    assert as_dict["spans"][0]["inputs"] == {"q": [1, 2]}
    assert as_dict["spans"][0]["token_usage"] == {
        "input_tokens": 1,
        "output_tokens": 1,
        "total_tokens": 2,
    }
    assert as_dict["info"]["tags"] == {"k": "v"}
    assert json.loads(trace.to_json())["info"] == as_dict["info"]
    assert "é" in Trace(info=info(name="é"), spans=()).to_json()  # not \\u-escaped
