"""Bounded assembly: roots that never end, parents that never arrive, traces of 50,000 spans.

Memory stays bounded (measured by the assembler's own counts, not RSS), and every such trace
is exported, marked incomplete where it is, and counted: never held forever.
"""

from __future__ import annotations

import pytest
from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

import genai_trace
from genai_trace import TraceClient
from genai_trace._runtime import state as _runtime
from genai_trace.exporters import InMemoryTraceExporter


def runtime() -> _runtime.Runtime:
    rt = _runtime.current()
    assert rt is not None
    return rt


def test_roots_that_never_end_are_evicted_past_the_cap_and_timed_out_after(
    exporter: InMemoryTraceExporter,
) -> None:
    genai_trace.configure(exporters=[exporter], max_buffered_traces=10, trace_timeout_s=60)
    client = TraceClient()
    for i in range(25):
        client.start_trace(f"never_ends_{i}", inputs={"i": i})  # and never end_trace
        assert runtime().assembler.open_trace_count() == min(i + 1, 10)
    assert genai_trace.stats()["traces_evicted"] == 15

    # The rest go out when they time out (swept here at a time far ahead, not slept for).
    assert runtime().assembler.sweep(now=10**9) == 10
    assert runtime().assembler.open_trace_count() == 0
    assert genai_trace.flush(30)
    traces = exporter.get_finished_traces()
    assert [(t.info.name, t.info.complete, t.info.incomplete_reason) for t in traces] == [
        (f"never_ends_{i}", False, "evicted" if i < 15 else "timeout") for i in range(25)
    ]
    assert all(t.spans[0].end_time_ns is None for t in traces)
    stats = genai_trace.stats()
    assert (stats["traces_evicted"], stats["traces_timed_out"], stats["traces_in_assembly"]) == (
        15,
        10,
        0,
    )


def test_a_span_whose_parent_never_arrives_is_exported_marked(
    exporter: InMemoryTraceExporter,
) -> None:
    missing_parent = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0x00F067AA0BA902B7,
        is_remote=False,  # a local parent that this process never started
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    token = context_api.attach(trace_api.set_span_in_context(NonRecordingSpan(missing_parent)))
    try:
        with genai_trace.start_span("orphan"):
            with genai_trace.start_span("its_child"):
                pass
    finally:
        context_api.detach(token)
    assert genai_trace.flush(30)
    (trace,) = exporter.get_finished_traces()
    assert (trace.info.trace_id, trace.info.complete, trace.info.incomplete_reason) == (
        "0af7651916cd43dd8448eb211c80319c",
        False,
        "late_span",
    )
    assert {s.name: s.parent_id for s in trace.spans} == {
        "orphan": "00f067aa0ba902b7",
        "its_child": trace.get_span("orphan").span_id,  # type: ignore[union-attr]
    }
    assert runtime().assembler.open_trace_count() == 0


@pytest.mark.slow
def test_a_trace_of_50000_spans_is_exported_whole(exporter: InMemoryTraceExporter) -> None:
    with genai_trace.start_span("huge") as root:
        for _ in range(49_999):
            with genai_trace.start_span("step"):
                pass
    assert genai_trace.flush(60)
    (trace,) = exporter.get_finished_traces()
    assert (trace.info.complete, trace.info.span_count, trace.info.dropped_spans) == (
        True,
        50_000,
        0,
    )
    assert trace.info.name == "huge"
    assert {s.parent_id for s in trace.spans if s.name == "step"} == {root.span_id}
    assert genai_trace.stats()["spans_dropped_over_limit"] == 0
    assert runtime().assembler.open_trace_count() == 0


@pytest.mark.slow
def test_spans_past_the_cap_are_dropped_and_counted_but_the_root_is_kept(
    exporter: InMemoryTraceExporter,
) -> None:
    genai_trace.configure(exporters=[exporter], max_spans_per_trace=1_000)
    with genai_trace.start_span("huge", inputs="question") as root:
        for _ in range(49_999):
            with genai_trace.start_span("step"):
                pass
        root.set_outputs("answer")
    assert genai_trace.flush(60)
    (trace,) = exporter.get_finished_traces()
    assert (trace.info.complete, trace.info.incomplete_reason, trace.info.dropped_spans) == (
        False,
        "span_limit",
        49_000,
    )
    assert len(trace.spans) == 1_000  # what was buffered never exceeded the cap
    assert genai_trace.stats()["spans_dropped_over_limit"] == 49_000
    huge = trace.get_span("huge")
    assert huge is not None and (huge.inputs, huge.outputs) == ("question", "answer")
    assert trace.info.name == "huge"
