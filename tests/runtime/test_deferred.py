"""DeferredTrace: a trace handed to exporters unbuilt, built once by its first reader."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import threading
from unittest import mock

import pytest

import genai_trace
from genai_trace._runtime import deferred as _deferred
from genai_trace._runtime.builder import build_trace, trace_of_views
from genai_trace._runtime.deferred import DeferredTrace
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.facts import TraceUpdates
from genai_trace._semantics.model import Trace
from tests.helpers.otel_spans import TRACE_ID, make_span


def spans() -> list:  # type: ignore[type-arg]
    return [
        make_span("child", 2, 1, attributes={sc.INPUT_VALUE: "q"}, start=1, end=5),
        make_span("root", 1, attributes={sc.TRACE_CLIENT_REQUEST_ID: "req-1"}, end=9),
    ]


def test_it_reads_like_the_built_trace_and_builds_once() -> None:
    deferred = DeferredTrace(spans(), TraceUpdates(session_id="s-1"))
    with mock.patch.object(_deferred, "trace_of_views", wraps=trace_of_views) as build:
        assert deferred.client_request_id == "req-1"
        assert build.call_count == 0  # the cheap facts need no build
        expected = build_trace(spans(), TraceUpdates(session_id="s-1"))
        assert deferred == expected and expected == deferred
        assert [s.name for s in deferred.spans] == ["root", "child"]
        assert deferred.info.session_id == "s-1"
        assert deferred.to_dict() == expected.to_dict()
        assert build.call_count == 1


def test_two_exporter_threads_reading_at_once_share_one_build() -> None:
    deferred = DeferredTrace(spans())
    seen: list[Trace] = []
    gate = threading.Barrier(4)

    def read() -> None:
        gate.wait()
        seen.append(deferred.built())

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(t) for t in seen}) == 1
    assert deferred.spans is seen[0].spans


def test_copies_and_pickles_are_plain_traces() -> None:
    deferred = DeferredTrace(spans())
    for other in (copy.deepcopy(deferred), pickle.loads(pickle.dumps(deferred))):
        assert type(other) is Trace and other == deferred


def test_a_builder_failure_still_hands_over_a_marked_shell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GENAI_TRACE_RAISE_INTERNAL_ERRORS", raising=False)

    def broken(*args: object) -> Trace:
        raise RuntimeError("builder bug")

    monkeypatch.setattr(_deferred, "finalize", broken)
    deferred = DeferredTrace(spans())
    assert deferred.spans == ()
    assert (deferred.info.trace_id, deferred.info.name) == (f"{TRACE_ID:032x}", "child")
    assert (deferred.info.complete, deferred.info.incomplete_reason) == (False, "build_failed")
    assert deferred.info.dropped_spans == 2


class RecordingExporter:
    """Keeps what it is handed, as it is handed (the memory exporter hands out built ones)."""

    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def export(self, traces: list[Trace]) -> genai_trace.ExportResult:
        self.traces.extend(traces)
        return genai_trace.ExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def test_the_pipeline_hands_exporters_unbuilt_traces_that_build_on_reading() -> None:
    exporter = RecordingExporter()
    genai_trace.configure(exporters=[exporter])

    @genai_trace.trace
    def answer(question: str) -> str:
        return "42"

    answer("why?")
    genai_trace.flush()
    (trace,) = exporter.traces
    assert isinstance(trace, DeferredTrace) and trace._built is None
    assert [(s.name, s.inputs, s.outputs) for s in trace.spans] == [
        ("answer", {"question": "why?"}, "42")
    ]
    found = genai_trace.get_trace(trace.info.trace_id)
    assert type(found) is Trace and found == trace  # the public API hands out plain traces
    assert dataclasses.replace(found, spans=()).spans == ()


def test_a_late_part_is_merged_when_read_not_when_it_arrives() -> None:
    from genai_trace._runtime.pipeline import RecentTraces

    recent = RecentTraces(10)
    earlier = DeferredTrace([make_span("root", 1, end=9)])
    later = DeferredTrace([make_span("late", 2, 1, start=5, end=20)], None, "late_span")
    recent.add(TRACE_ID, earlier)
    with mock.patch.object(_deferred, "trace_of_views", wraps=trace_of_views) as build:
        recent.add(TRACE_ID, later)
        assert build.call_count == 0
        merged = recent.get(f"{TRACE_ID:032x}")
        assert merged is not None and [s.name for s in merged.spans] == ["root", "late"]
        assert merged.info.name == "root" and build.call_count == 2
