"""Generator spans: open at first next(), end at exhaustion, error or early close."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Generator, Iterator

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace.testing import capture_traces
from tests.helpers.trace_shape import event_names, only, parent_names


@genai_trace.trace(span_type=SpanType.LLM, output_reducer="".join)
def stream(words: list[str]) -> Iterator[str]:
    yield from words


@genai_trace.trace(span_type=SpanType.LLM, output_reducer="".join)
async def astream(words: list[str]) -> AsyncIterator[str]:
    for word in words:
        await asyncio.sleep(0)
        yield word


def test_output_reducer_turns_items_into_the_output() -> None:
    with capture_traces() as traces:
        assert list(stream(["Hel", "lo"])) == ["Hel", "lo"]
    (span,) = only(traces).spans
    assert span.outputs == "Hello"
    assert only(traces).info.response_preview == "Hello"


def test_a_failing_reducer_falls_back_to_the_items(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    @genai_trace.trace(output_reducer=lambda items: 1 / 0)
    def numbers() -> Iterator[int]:
        yield 1

    monkeypatch.setenv("GENAI_TRACE_RAISE_INTERNAL_ERRORS", "0")
    with capture_traces() as traces:
        assert list(numbers()) == [1]
    assert only(traces).spans[0].outputs == [1]
    assert "internal error in output_reducer" in caplog.text


@pytest.mark.parametrize("how", ["break", "close", "garbage_collection"])
def test_generator_stopped_early_still_ends_its_span(how: str) -> None:
    with capture_traces() as traces:
        generator = stream(["a", "b", "c"])
        if how == "break":
            for word in generator:
                if word == "b":
                    break
            del generator
        elif how == "close":
            assert next(generator) == "a"
            generator.close()
        else:
            assert next(generator) == "a"
            del generator
            gc.collect()
    trace = only(traces)
    (span,) = trace.spans
    assert span.end_time_ns is not None
    assert event_names(trace, "stream") == ["genai_trace.generator_closed"]
    assert span.status == "UNSET"
    assert span.outputs == ("ab" if how == "break" else "a")
    assert trace.info.complete


async def test_async_generator_closed_early_ends_its_span() -> None:
    with capture_traces() as traces:
        generator = astream(["a", "b"])
        assert await generator.__anext__() == "a"
        await generator.aclose()
    trace = only(traces)
    assert event_names(trace, "astream") == ["genai_trace.generator_closed"]
    assert trace.spans[0].outputs == "a"


def test_generator_body_never_started_records_nothing() -> None:
    with capture_traces() as traces:
        generator = stream(["a"])
        del generator
        gc.collect()
    assert traces == []


def test_spans_opened_by_the_consumer_between_items_are_not_children_of_the_generator() -> None:
    @genai_trace.trace
    def handle(word: str) -> str:
        return word

    @genai_trace.trace
    def pipeline() -> None:
        for word in stream(["x", "y"]):
            handle(word)

    with capture_traces() as traces:
        pipeline()
    trace = only(traces)
    assert parent_names(trace) == {"pipeline": None, "stream": "pipeline", "handle": "pipeline"}
    assert [s.name for s in trace.spans] == ["pipeline", "stream", "handle", "handle"]


def test_spans_inside_the_generator_body_are_its_children() -> None:
    @genai_trace.trace
    def fetch(i: int) -> int:
        return i

    @genai_trace.trace
    def produce() -> Iterator[int]:
        for i in range(2):
            yield fetch(i)

    with capture_traces() as traces:
        assert list(produce()) == [0, 1]
    assert parent_names(only(traces)) == {"produce": None, "fetch": "produce"}
    assert [s.name for s in only(traces).spans] == ["produce", "fetch", "fetch"]


def test_span_timing_covers_the_whole_consumption() -> None:
    with capture_traces() as traces:
        for _ in stream(["a", "b"]):
            time.sleep(0.02)
    (span,) = only(traces).spans
    assert span.duration_ms is not None and span.duration_ms >= 20


def test_send_and_throw_are_forwarded_to_the_generator() -> None:
    @genai_trace.trace
    def echo() -> Generator[str, str, str]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except ValueError as exc:
            yield f"handled {exc}"
        return "done"

    with capture_traces() as traces:
        generator = echo()
        assert next(generator) == "ready"
        assert generator.send("ping") == "got ping"
        assert generator.throw(ValueError("oops")) == "handled oops"
        with pytest.raises(StopIteration) as stop:
            next(generator)
        assert stop.value.value == "done"
    (span,) = only(traces).spans
    assert span.outputs == ["ready", "got ping", "handled oops"]
    assert span.status == "UNSET"


def test_exception_thrown_in_and_not_handled_marks_the_span_error() -> None:
    with capture_traces() as traces:
        generator = stream(["a", "b"])
        next(generator)
        with pytest.raises(KeyError):
            generator.throw(KeyError("stop"))
    (span,) = only(traces).spans
    assert span.status == "ERROR"
    assert event_names(only(traces), "stream") == ["exception"]


async def test_async_generator_asend_and_athrow() -> None:
    @genai_trace.trace
    async def echo() -> AsyncIterator[str]:
        received = yield "ready"
        try:
            yield f"got {received}"
        except ValueError:
            yield "handled"

    with capture_traces() as traces:
        generator = echo()
        assert await generator.asend(None) == "ready"
        assert await generator.asend("ping") == "got ping"
        assert await generator.athrow(ValueError("x")) == "handled"
        with pytest.raises(StopAsyncIteration):
            await generator.__anext__()
    assert only(traces).spans[0].outputs == ["ready", "got ping", "handled"]
