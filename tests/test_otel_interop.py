"""Real OTel spans in the app's provider: nesting with other instrumentations, threads, asyncio."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_trace
from genai_trace import SpanType
from genai_trace.exporters import InMemoryTraceExporter
from genai_trace.testing import capture_traces
from tests.helpers.app_processors import added_processor
from tests.helpers.trace_shape import only, parent_names, span_tree

foreign = trace_api.get_tracer("app.http")


@genai_trace.trace(span_type=SpanType.LLM)
def complete(prompt: str) -> str:
    with foreign.start_as_current_span("POST https://llm.local/v1/chat"):
        return prompt.upper()


def test_spans_nest_both_ways_with_another_instrumentation() -> None:
    @genai_trace.trace
    def handler(prompt: str) -> str:
        return complete(prompt)

    with capture_traces() as traces:
        with foreign.start_as_current_span("GET /ask"):
            handler("hi")
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "GET /ask", "UNKNOWN"),
        (1, "handler", "CHAIN"),
        (2, "complete", "LLM"),
        (3, "POST https://llm.local/v1/chat", "UNKNOWN"),
    ]
    assert trace.info.name == "GET /ask"


def test_our_spans_reach_the_apps_own_exporters_as_real_otel_spans() -> None:
    provider = trace_api.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    app_exporter = InMemorySpanExporter()
    with added_processor(provider, SimpleSpanProcessor(app_exporter)):
        complete("x")
    names = [s.name for s in app_exporter.get_finished_spans()]
    assert names == ["POST https://llm.local/v1/chat", "complete"]
    ours = app_exporter.get_finished_spans()[1]
    assert ours.attributes is not None
    assert ours.attributes["openinference.span.kind"] == "LLM"
    assert ours.attributes["input.value"] == '{"prompt":"x"}'
    assert ours.attributes["output.value"] == "X"


def test_traces_without_any_genai_span_are_left_to_the_app() -> None:
    with capture_traces() as traces:
        with foreign.start_as_current_span("GET /health"):
            pass
    assert traces == []
    assert genai_trace.stats()["traces_skipped_without_genai_span"] == 1


def test_keep_all_traces_exports_plain_traces_too() -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], keep_all_traces=True)
    with foreign.start_as_current_span("GET /health"):
        pass
    genai_trace.flush()
    assert [t.info.name for t in exporter.get_finished_traces()] == ["GET /health"]


def test_thread_pool_and_threads_inherit_the_current_span() -> None:
    @genai_trace.trace(span_type=SpanType.TOOL)
    def tool(i: int) -> int:
        return i * i

    @genai_trace.trace(span_type=SpanType.AGENT)
    def agent() -> list[int]:
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(tool, range(4)))
        thread = threading.Thread(target=tool, args=(10,))
        thread.start()
        thread.join()
        return results

    with capture_traces() as traces:
        assert agent() == [0, 1, 4, 9]
    trace = only(traces)
    assert trace.info.span_count == 6
    root = trace.root
    assert root is not None and root.name == "agent"
    assert sorted(s.inputs["i"] for s in trace.spans if s.name == "tool") == [0, 1, 2, 3, 10]
    assert all(s.parent_id == root.span_id for s in trace.spans if s.name == "tool")


def test_a_child_still_running_on_a_thread_delays_export_instead_of_being_lost() -> None:
    release = threading.Event()

    @genai_trace.trace
    def slow_child() -> str:
        release.wait(5)
        return "late"

    @genai_trace.trace
    def parent() -> threading.Thread:
        thread = threading.Thread(target=slow_child)
        thread.start()
        return thread

    with capture_traces() as traces:
        thread = parent()
        genai_trace.flush()
        assert genai_trace.stats()["traces_in_assembly"] == 1
        release.set()
        thread.join()
    trace = only(traces)
    assert parent_names(trace) == {"parent": None, "slow_child": "parent"}
    assert trace.info.complete


async def test_fifty_concurrent_asyncio_traces_never_mix() -> None:
    @genai_trace.trace(span_type=SpanType.RETRIEVER)
    async def retrieve(n: int) -> int:
        await asyncio.sleep(0.001 * (n % 5))
        return n

    @genai_trace.trace(span_type=SpanType.LLM)
    async def generate(n: int) -> int:
        await asyncio.sleep(0.001 * (n % 3))
        return n

    @genai_trace.trace
    async def request(n: int) -> int:
        a, b = await asyncio.gather(retrieve(n), generate(n))
        return a + b

    with capture_traces() as traces:
        results = await asyncio.gather(*(request(n) for n in range(50)))
    assert results == [2 * n for n in range(50)]
    assert len(traces) == 50
    for trace in traces:
        root = trace.root
        assert root is not None
        n = root.inputs["n"]
        assert trace.info.request_preview == f'{{"n":{n}}}'
        assert sorted(s.name for s in trace.spans) == ["generate", "request", "retrieve"]
        assert all(s.inputs == {"n": n} for s in trace.spans)
        assert root.outputs == 2 * n
        assert all(s.parent_id == root.span_id for s in trace.spans if s is not root)
    assert len({t.info.trace_id for t in traces}) == 50


def test_an_isolated_provider_is_used_when_given() -> None:
    provider = TracerProvider()
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], tracer_provider=provider)
    try:
        with foreign.start_as_current_span("global-outer"):
            complete("x")
        genai_trace.flush()
        (trace,) = exporter.get_finished_traces()
        # Our span lives in the isolated provider; the foreign one in the global provider,
        # so the trace we assemble holds our span only, parented to the foreign span.
        assert [s.name for s in trace.spans] == ["complete"]
        assert trace.spans[0].parent_id is not None
    finally:
        provider.shutdown()


def test_configure_rejects_bad_settings_with_clear_messages() -> None:
    with pytest.raises(TypeError, match=r"unknown setting.*no_such_thing"):
        genai_trace.configure(no_such_thing=1)
    with pytest.raises(ValueError, match="max_payload_chars"):
        genai_trace.configure(max_payload_chars=1)
    with pytest.raises(TypeError, match="tracer_provider"):
        genai_trace.configure(tracer_provider=object())  # type: ignore[arg-type]
