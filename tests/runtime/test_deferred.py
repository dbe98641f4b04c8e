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
from genai_trace._semantics import capture as _capture
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


# --- a batch's waiting payloads looked at together ------------------------------------------

_SECRET = "sk-proj-abcdefghijklmnopqrstuvwx"


def _recorded_batch(questions: list[str]) -> list[Trace]:
    """Traces recorded alone (payloads waiting for redaction), as a destination gets them."""
    from tests.exporters.test_otlp_views import Recorder

    recorder = Recorder()
    genai_trace.configure(exporters=[recorder])

    @genai_trace.trace
    def answer(question: str, top_k: int) -> dict[str, object]:
        return {"answer": question.upper(), "top_k": top_k}

    for question in questions:
        answer(question, 3)
    genai_trace.flush()
    assert all(isinstance(t, DeferredTrace) and t._views is None for t in recorder.traces)
    # The recorder's destination looked at them already: the same spans, unread by anyone.
    return [DeferredTrace(*t.parts) for t in recorder.traces]  # type: ignore[attr-defined]


def test_a_clean_batch_is_finalized_together_as_each_trace_alone_would_be() -> None:
    traces = _recorded_batch([f"question {i}" for i in range(40)])
    alone = [build_trace(t.parts[0]) for t in traces]  # type: ignore[attr-defined]
    with mock.patch.object(
        _deferred, "waiting_payloads_clean", wraps=_deferred.waiting_payloads_clean
    ) as looked:
        _deferred.finalize_together(traces)
    assert looked.call_count == 2  # groups of 32 and 8
    assert all(t._clean and t._views is None for t in traces)  # type: ignore[attr-defined]
    with mock.patch.object(_deferred, "waiting_payloads_clean") as looked_again:
        _deferred.finalize_together(traces)  # the batch as another destination gets it
    looked_again.assert_not_called()
    with mock.patch.object(_capture, "_redacted_now") as one_by_one:
        for trace in traces:
            trace.span_views()  # type: ignore[attr-defined]
    one_by_one.assert_not_called()  # made without looking at a payload again
    for trace, expected in zip(traces, alone, strict=True):
        assert trace == expected
        (span,) = trace.spans
        assert type(span.attributes[sc.INPUT_VALUE]) is str
        assert span.attributes[sc.INPUT_MIME_TYPE] == "application/json"


def test_a_secret_sends_its_group_alone_and_is_redacted() -> None:
    questions = [f"question {i}" for i in range(40)]
    questions[35] = f"use {_SECRET} please"
    traces = _recorded_batch(questions)
    _deferred.finalize_together(traces)
    assert all(t._clean for t in traces[:32])  # type: ignore[attr-defined]
    assert all(t._clean is False for t in traces[32:])  # type: ignore[attr-defined]
    with mock.patch.object(_deferred, "waiting_payloads_clean") as looked_again:
        _deferred.finalize_together(traces)  # another destination: each is looked at alone
    looked_again.assert_not_called()
    text = str(traces[35].spans[0].attributes[sc.INPUT_VALUE])
    assert _SECRET not in text and "[REDACTED:api_key]" in text
    assert traces[34].spans[0].inputs == {"question": "question 34", "top_k": 3}
