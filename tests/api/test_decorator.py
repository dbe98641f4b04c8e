"""@genai_trace.trace on every kind of callable: spans, inputs, outputs, errors, nature kept."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import genai_trace
from genai_trace import SpanType
from genai_trace.testing import capture_traces
from tests.helpers.trace_shape import only, span_tree


@genai_trace.trace
def add(a: int, b: int = 10) -> int:
    """Add two numbers."""
    return a + b


@genai_trace.trace(name="async_add", span_type=SpanType.TOOL)
async def add_async(a: int, b: int = 10) -> int:
    await asyncio.sleep(0)
    return a + b


@genai_trace.trace(span_type=SpanType.LLM)
def count_up(n: int) -> Iterator[int]:
    yield from range(n)


@genai_trace.trace(span_type="my-custom-type")
async def count_up_async(n: int) -> AsyncIterator[int]:
    for i in range(n):
        await asyncio.sleep(0)
        yield i


def test_bare_decorator_records_inputs_with_defaults_and_output() -> None:
    with capture_traces() as traces:
        assert add(1) == 11
    trace = only(traces)
    (span,) = trace.spans
    assert (span.name, span.span_type, span.parent_id) == ("add", "CHAIN", None)
    assert span.inputs == {"a": 1, "b": 10}
    assert span.outputs == 11
    assert span.status == "UNSET"
    assert span.events == ()
    assert span.attributes["input.mime_type"] == "application/json"
    assert span.attributes["openinference.span.kind"] == "CHAIN"
    assert trace.info.state == "OK"
    assert trace.info.request_preview == '{"a":1,"b":10}'
    assert trace.info.response_preview == "11"


def test_wrapper_keeps_name_docstring_signature_and_nature() -> None:
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert str(inspect.signature(add)) == "(a: 'int', b: 'int' = 10) -> 'int'"
    assert not inspect.iscoroutinefunction(add)
    assert inspect.iscoroutinefunction(add_async)
    assert inspect.isgeneratorfunction(count_up)
    assert inspect.isasyncgenfunction(count_up_async)
    assert not inspect.isgeneratorfunction(add_async)


async def test_async_function() -> None:
    with capture_traces() as traces:
        assert await add_async(2, b=3) == 5
    (span,) = only(traces).spans
    assert (span.name, span.span_type, span.inputs, span.outputs) == (
        "async_add",
        "TOOL",
        {"a": 2, "b": 3},
        5,
    )


def test_generator_output_is_the_list_of_items_and_span_covers_consumption() -> None:
    with capture_traces() as traces:
        assert list(count_up(3)) == [0, 1, 2]
    (span,) = only(traces).spans
    assert (span.name, span.span_type, span.inputs, span.outputs) == (
        "count_up",
        "LLM",
        {"n": 3},
        [0, 1, 2],
    )
    assert span.attributes["genai_trace.time_to_first_item_ms"] >= 0


async def test_async_generator_with_custom_type() -> None:
    with capture_traces() as traces:
        assert [i async for i in count_up_async(2)] == [0, 1]
    (span,) = only(traces).spans
    assert (span.span_type, span.outputs) == ("my-custom-type", [0, 1])
    assert span.attributes["openinference.span.kind"] == "UNKNOWN"


def test_span_name_defaults_to_dunder_name_not_qualname() -> None:
    class Assistant:
        @genai_trace.trace
        def reply(self, text: str) -> str:
            return text.upper()

    with capture_traces() as traces:
        assert Assistant().reply("hi") == "HI"
    (span,) = only(traces).spans
    assert span.name == "reply"
    assert span.inputs == {"text": "hi"}  # self left out


def test_classmethod_and_staticmethod_in_either_order() -> None:
    class Tools:
        factor = 3

        @genai_trace.trace
        @classmethod
        def scale(cls, x: int) -> int:
            return x * cls.factor

        @classmethod
        @genai_trace.trace(name="scale2")
        def scale_inner(cls, x: int) -> int:
            return x * cls.factor

        @genai_trace.trace
        @staticmethod
        def double(x: int) -> int:
            return 2 * x

    with capture_traces() as traces:
        assert Tools.scale(2) == 6
        assert Tools().scale_inner(x=1) == 3
        assert Tools.double(4) == 8
    assert [(t.spans[0].name, t.spans[0].inputs, t.spans[0].outputs) for t in traces] == [
        ("scale", {"x": 2}, 6),
        ("scale2", {"x": 1}, 3),
        ("double", {"x": 4}, 8),
    ]


def test_options_attributes_and_capture_switches() -> None:
    @genai_trace.trace(
        name="secretive",
        attributes={"team": "search", "weights": [1, 2], "config": {"k": 1}},
        capture_inputs=False,
        capture_outputs=False,
    )
    def secretive(password: str) -> str:
        return password[::-1]

    with capture_traces() as traces:
        assert secretive("hunter2") == "2retnuh"
    (span,) = only(traces).spans
    assert span.inputs is None and span.outputs is None
    assert "input.value" not in span.attributes and "output.value" not in span.attributes
    assert span.attributes["team"] == "search"
    assert span.attributes["weights"] == (1, 2)
    assert span.attributes["config"] == '{"k":1}'


def test_varargs_and_kwargs_are_bound() -> None:
    @genai_trace.trace
    def flexible(a: int, *rest: int, scale: float = 1.0, **extra: Any) -> float:
        return (a + sum(rest)) * scale

    with capture_traces() as traces:
        flexible(1, 2, 3, scale=2.0, note="x")
    (span,) = only(traces).spans
    assert span.inputs == {"a": 1, "rest": [2, 3], "scale": 2.0, "extra": {"note": "x"}}


def test_inputs_are_a_snapshot_taken_when_the_call_starts() -> None:
    @genai_trace.trace
    def mutate(items: list[int]) -> int:
        items.append(99)
        return len(items)

    values = [1, 2]
    with capture_traces() as traces:
        mutate(values)
    assert only(traces).spans[0].inputs == {"items": [1, 2]}


class Boom(Exception):
    pass


def raise_boom(message: str) -> None:
    raise Boom(message)


@pytest.mark.parametrize("kind", ["sync", "async", "generator", "async_generator"])
async def test_user_exception_is_recorded_and_reraised_unchanged(kind: str) -> None:
    original = Boom("bad input")

    @genai_trace.trace(name="failing")
    def sync_failing() -> None:
        raise original

    @genai_trace.trace(name="failing")
    async def async_failing() -> None:
        raise original

    @genai_trace.trace(name="failing")
    def gen_failing() -> Iterator[int]:
        yield 1
        raise original

    @genai_trace.trace(name="failing")
    async def agen_failing() -> AsyncIterator[int]:
        yield 1
        raise original

    with capture_traces() as traces:
        with pytest.raises(Boom) as caught:
            if kind == "sync":
                sync_failing()
            elif kind == "async":
                await async_failing()
            elif kind == "generator":
                list(gen_failing())
            else:
                [i async for i in agen_failing()]
    assert caught.value is original
    trace = only(traces)
    (span,) = trace.spans
    assert span.status == "ERROR"
    assert span.status_message == "Boom: bad input"
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "tests.api.test_decorator.Boom"
    assert event.attributes["exception.message"] == "bad input"
    assert "raise original" in event.attributes["exception.stacktrace"]
    assert trace.info.state == "ERROR"


def test_nested_calls_build_one_tree() -> None:
    @genai_trace.trace(span_type=SpanType.RETRIEVER)
    def retrieve(q: str) -> list[str]:
        return [f"doc about {q}"]

    @genai_trace.trace(span_type=SpanType.LLM)
    def generate(q: str, docs: list[str]) -> str:
        return f"answer to {q}"

    @genai_trace.trace
    def rag(q: str) -> str:
        return generate(q, retrieve(q))

    with capture_traces() as traces:
        rag("otel")
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "rag", "CHAIN"),
        (1, "retrieve", "RETRIEVER"),
        (1, "generate", "LLM"),
    ]
    root = trace.root
    assert root is not None
    assert {s.parent_id for s in trace.spans if s is not root} == {root.span_id}
    assert len({s.trace_id for s in trace.spans}) == 1
    assert trace.info.span_count == 3
    assert trace.info.request_preview == "otel"
    assert trace.info.response_preview == "answer to otel"


def test_disabled_calls_the_function_directly_and_records_nothing() -> None:
    genai_trace.disable()
    try:
        with capture_traces() as traces:
            assert add(1, 2) == 3
            assert list(count_up(2)) == [0, 1]
    finally:
        genai_trace.enable()
    assert traces == []
    assert genai_trace.is_enabled()


def test_decorating_a_non_callable_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="decorates a callable"):
        genai_trace.trace(42)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="output_reducer"):
        genai_trace.trace(output_reducer="join")(add)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="span_type"):
        genai_trace.trace(span_type=3)(add)  # type: ignore[call-overload]
