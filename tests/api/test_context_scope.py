"""genai_trace.context(): session, user, tags, metadata for every trace started in a block."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import genai_trace
from genai_trace.testing import capture_traces
from tests.helpers.trace_shape import only


@genai_trace.trace
def step(x: int) -> int:
    return x


def test_context_applies_to_every_span_and_to_the_trace() -> None:
    with capture_traces() as traces:
        with genai_trace.context(
            session_id="s-1", user_id="ada", tags={"env": "prod"}, metadata={"plan": "pro"}
        ):
            step(1)
        step(2)
    first, second = traces
    assert (first.info.session_id, first.info.user_id) == ("s-1", "ada")
    assert dict(first.info.tags) == {"env": "prod"}
    assert dict(first.info.metadata) == {"plan": "pro"}
    span = first.spans[0]
    assert span.attributes["session.id"] == "s-1"
    assert span.attributes["user.id"] == "ada"
    assert span.attributes["metadata"] == '{"plan":"pro"}'
    assert span.attributes["tag.tags"] == ("env=prod",)
    assert (second.info.session_id, second.info.user_id, dict(second.info.tags)) == (None, None, {})


def test_nested_scopes_merge_inner_wins() -> None:
    with capture_traces() as traces:
        with genai_trace.context(session_id="outer", tags={"a": "1"}, metadata={"x": 1}):
            with genai_trace.context(session_id="inner", tags=["b"], metadata={"y": 2}):
                step(1)
            step(2)
    inner, outer = traces
    assert inner.info.session_id == "inner"
    assert dict(inner.info.tags) == {"a": "1", "b": ""}
    assert dict(inner.info.metadata) == {"x": 1, "y": 2}
    assert outer.info.session_id == "outer"
    assert dict(outer.info.tags) == {"a": "1"}


def test_context_is_carried_into_threads_and_asyncio_tasks() -> None:
    async def in_task() -> int:
        return step(3)

    with capture_traces() as traces:
        with genai_trace.context(session_id="s-threads", user_id="u"):
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(step, [1, 2]))
            asyncio.run(in_task())
    assert len(traces) == 3
    assert {(t.info.session_id, t.info.user_id) for t in traces} == {("s-threads", "u")}


def test_update_current_trace_wins_over_the_scope() -> None:
    @genai_trace.trace
    def handler() -> None:
        genai_trace.update_current_trace(user_id="explicit")

    with capture_traces() as traces, genai_trace.context(user_id="scoped"):
        handler()
    assert only(traces).info.user_id == "explicit"


def test_a_value_the_span_was_started_with_wins_over_the_scope() -> None:
    with capture_traces() as traces, genai_trace.context(user_id="scoped"):
        with genai_trace.start_span("s", attributes={"user.id": "own"}):
            pass
    assert only(traces).spans[0].attributes["user.id"] == "own"
