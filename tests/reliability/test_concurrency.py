"""Concurrency: 16 threads, each running asyncio tasks that open nested spans, 10,000 traces.

Every trace is exported exactly once, with every parent link right, and nothing is left
buffered afterwards.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

import genai_trace
from genai_trace._runtime import state as _runtime
from genai_trace.exporters import InMemoryTraceExporter
from tests.helpers.reliability.faults import WAIT_S

THREADS = 16
TASKS = 25
TRACES_PER_TASK = 25  # 16 x 25 x 25 = 10,000 traces of 4 spans


@genai_trace.trace(name="embed")
def embed(key: str) -> list[int]:
    return [len(key)]


@genai_trace.trace(name="retrieve")
async def retrieve(key: str) -> list[int]:
    await asyncio.sleep(0)  # let the other tasks of this loop interleave
    return embed(key)


@genai_trace.trace(name="request")
async def request(key: str) -> str:
    await asyncio.sleep(0)
    await retrieve(key)
    with genai_trace.start_span("rerank", inputs={"key": key}) as span:
        await asyncio.sleep(0)
        span.set_outputs({"key": key})
    return key


async def task(thread: int, task: int) -> None:
    for i in range(TRACES_PER_TASK):
        key = f"{thread}-{task}-{i}"
        assert await request(key) == key


async def one_thread(thread: int) -> None:
    await asyncio.gather(*(task(thread, t) for t in range(TASKS)))


@pytest.mark.slow
def test_10000_concurrent_traces_are_each_exported_once_with_every_parent_right(
    exporter: InMemoryTraceExporter,
) -> None:
    errors: list[BaseException] = []

    def run(thread: int) -> None:
        try:
            asyncio.run(one_thread(thread))
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S * 4)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert genai_trace.flush(WAIT_S)

    traces = exporter.get_finished_traces()
    expected_keys = {
        f"{thread}-{task}-{i}"
        for thread in range(THREADS)
        for task in range(TASKS)
        for i in range(TRACES_PER_TASK)
    }
    assert len(traces) == len(expected_keys) == 10_000
    assert len({t.info.trace_id for t in traces}) == 10_000
    seen_keys = set()
    for trace in traces:
        by_name = {span.name: span for span in trace.spans}
        assert sorted(by_name) == ["embed", "request", "rerank", "retrieve"]
        key = by_name["request"].inputs["key"]
        seen_keys.add(key)
        root = by_name["request"]
        assert (trace.info.complete, root.parent_id) == (True, None)
        assert by_name["retrieve"].parent_id == root.span_id
        assert by_name["embed"].parent_id == by_name["retrieve"].span_id
        assert by_name["rerank"].parent_id == root.span_id
        # Every span of the trace belongs to this request, not to a neighbouring task's.
        assert by_name["retrieve"].inputs == {"key": key}
        assert by_name["embed"].inputs == {"key": key}
        assert by_name["rerank"].outputs == {"key": key}
        assert {span.trace_id for span in trace.spans} == {trace.info.trace_id}
    assert seen_keys == expected_keys

    rt = _runtime.current()
    assert rt is not None and rt.assembler.open_trace_count() == 0
    stats = genai_trace.stats()
    (destination,) = stats.pop("destinations").values()
    assert destination == {"exported": 10_000, "failed": 0, "dropped": 0}
    assert stats == {
        "traces_in_assembly": 0,
        "traces_completed": 10_000,
        "traces_skipped_without_genai_span": 0,
        "traces_timed_out": 0,
        "traces_evicted": 0,
        "spans_dropped_over_limit": 0,
    }
