"""Whole-trace assembly: bounds, timeouts, late spans, look-ups, flush and shutdown."""

from __future__ import annotations

import threading

import pytest
from opentelemetry import context as context_api
from opentelemetry import trace as trace_api

import genai_trace
from genai_trace._runtime import state as _runtime
from genai_trace.exporters import InMemoryTraceExporter
from genai_trace.testing import capture_traces
from tests.helpers.trace_shape import only


@genai_trace.trace
def unit(x: int) -> int:
    return x


def test_get_last_trace_id_and_get_trace() -> None:
    unit(5)
    trace_id = genai_trace.get_last_trace_id()
    assert trace_id is not None and len(trace_id) == 32
    trace = genai_trace.get_trace(trace_id)
    assert trace is not None
    assert trace.info.trace_id == trace_id
    assert trace.spans[0].inputs == {"x": 5}
    assert genai_trace.get_trace("0" * 32) is None
    with pytest.raises(TypeError):
        genai_trace.get_trace(123)  # type: ignore[arg-type]


def test_recent_traces_buffer_is_bounded() -> None:
    genai_trace.configure(exporters=[], recent_traces=3)
    ids = []
    for i in range(5):
        unit(i)
        ids.append(genai_trace.get_last_trace_id())
    genai_trace.flush()
    assert [genai_trace.get_trace(i) is not None for i in ids if i] == [
        False,
        False,
        True,
        True,
        True,
    ]


def test_capture_traces_leaves_out_traces_completed_before_the_block() -> None:
    unit(1)
    with capture_traces() as traces:
        unit(2)
    assert [t.spans[0].inputs for t in traces] == [{"x": 2}]


def test_an_unfinished_trace_is_exported_incomplete_after_the_timeout() -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], trace_timeout_s=0.05)
    rt = _runtime.current()
    assert rt is not None
    span_scope = genai_trace.start_span("never_ends", inputs="q")
    span = span_scope.__enter__()
    with genai_trace.start_span("finished_child"):
        pass
    # Sweep directly rather than sleeping on the worker's tick: deterministic.
    assert rt.assembler.sweep(now=10**9) == 1
    genai_trace.flush()
    (trace,) = exporter.get_finished_traces()
    assert (trace.info.complete, trace.info.incomplete_reason, trace.info.state) == (
        False,
        "timeout",
        "IN_PROGRESS",
    )
    by_name = {s.name: s for s in trace.spans}
    assert by_name["never_ends"].end_time_ns is None
    assert by_name["finished_child"].end_time_ns is not None
    assert genai_trace.stats()["traces_timed_out"] == 1
    # When the span finally ends it is exported as a late follow-up part, not lost.
    span_scope.__exit__(None, None, None)
    genai_trace.flush()
    late = exporter.get_finished_traces()[1]
    assert late.info.trace_id == span.trace_id
    assert (late.info.complete, late.info.incomplete_reason) == (False, "late_span")


def test_the_oldest_trace_is_evicted_incomplete_when_too_many_are_open() -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], max_buffered_traces=2)
    scopes = [genai_trace.start_span(f"open-{i}") for i in range(3)]
    for scope in scopes:
        scope.__enter__()
        context_api.attach(context_api.Context())  # each next span starts a new trace
    genai_trace.flush()
    (evicted,) = exporter.get_finished_traces()
    assert (evicted.info.name, evicted.info.incomplete_reason) == ("open-0", "evicted")
    assert genai_trace.stats()["traces_evicted"] == 1
    genai_trace.shutdown()
    assert sorted(
        (t.info.name, t.info.incomplete_reason) for t in exporter.get_finished_traces()[1:]
    ) == [("open-1", "shutdown"), ("open-2", "shutdown")]


def test_spans_over_the_per_trace_limit_are_dropped_and_counted() -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], max_spans_per_trace=3)
    with genai_trace.start_span("root"):
        for i in range(5):
            unit(i)
    genai_trace.flush()
    (trace,) = exporter.get_finished_traces()
    assert trace.info.span_count == 3
    assert (trace.info.dropped_spans, trace.info.incomplete_reason) == (3, "span_limit")
    assert genai_trace.stats()["spans_dropped_over_limit"] == 3


def test_a_span_started_after_its_trace_was_exported_is_a_follow_up_part() -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter])
    with genai_trace.start_span("request"):
        parent_context = context_api.get_current()
    token = context_api.attach(parent_context)
    try:
        unit(1)  # its parent already ended and was exported
    finally:
        context_api.detach(token)
    genai_trace.flush()
    first, late = exporter.get_finished_traces()
    assert first.info.complete and first.info.name == "request"
    assert late.info.trace_id == first.info.trace_id
    assert (late.info.name, late.info.incomplete_reason) == ("unit", "late_span")


def test_flush_waits_for_every_destination() -> None:
    slow_started = threading.Event()

    class SlowExporter:
        def __init__(self) -> None:
            self.names: list[str] = []

        def export(self, traces: object) -> genai_trace.ExportResult:
            slow_started.set()
            threading.Event().wait(0.2)
            self.names.extend(t.info.name for t in traces)  # type: ignore[attr-defined]
            return genai_trace.ExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    slow = SlowExporter()
    genai_trace.configure(exporters=[slow])
    unit(1)
    assert genai_trace.flush(timeout_s=10)
    assert slow.names == ["unit"]
    assert genai_trace.stats()["destinations"]["genai_trace export: SlowExporter"] == {
        "exported": 1,
        "failed": 0,
        "dropped": 0,
    }


def test_a_failing_exporter_is_counted_and_does_not_reach_the_app(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GENAI_TRACE_RAISE_INTERNAL_ERRORS", "0")

    class Broken:
        def export(self, traces: object) -> genai_trace.ExportResult:
            raise ConnectionError("backend down")

        def shutdown(self) -> None:
            pass

    good = InMemoryTraceExporter()
    genai_trace.configure(exporters=[Broken(), good])
    assert unit(7) == 7
    genai_trace.flush()
    assert len(good.get_finished_traces()) == 1
    stats = genai_trace.stats()["destinations"]
    assert stats["genai_trace export: Broken"]["failed"] == 1


def test_shutdown_is_idempotent_and_stops_recording() -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter])
    unit(1)
    genai_trace.shutdown()
    genai_trace.shutdown()
    assert unit(2) == 2
    genai_trace.flush()
    assert [t.spans[0].inputs for t in exporter.get_finished_traces()] == [{"x": 1}]
    assert trace_api.get_current_span() is trace_api.INVALID_SPAN


def test_hostile_inputs_never_break_the_traced_function() -> None:
    class Hostile:
        def __repr__(self) -> str:
            raise RuntimeError("no repr for you")

        def __eq__(self, other: object) -> bool:
            raise RuntimeError("no eq")

        __hash__ = None  # type: ignore[assignment]

    cyclic: list[object] = []
    cyclic.append(cyclic)

    @genai_trace.trace
    def swallow(a: object, b: object, c: object, d: object) -> object:
        return {"nan": float("nan"), (1, 2): "tuple key", "bytes": b"\xff\x00"}

    with capture_traces() as traces:
        result = swallow(Hostile(), cyclic, "x" * 500_000, {1: {2: {3: [Hostile()]}}})
    assert result[(1, 2)] == "tuple key"
    (span,) = only(traces).spans
    assert span.inputs["a"].startswith("<unrepresentable")
    assert span.inputs["b"] == ["...[cycle]"]
    assert len(span.attributes["input.value"]) <= 100_000
    assert "...[truncated" in span.inputs["c"]
    assert span.outputs == {"nan": None, "(1, 2)": "tuple key", "bytes": "base64:/wA="}
