"""Feedback over OTLP, read back from the bytes a real OTLP/HTTP receiver took.

Logged on an open trace: the ``gen_ai.evaluation.result`` event rides on the judged span.
Logged later: a small span of the same trace, child of and linked to the judged span.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import genai_trace
from genai_trace import Source
from genai_trace.exporters import OTLPTraceExporter
from tests.helpers.reliability.faults import FaultyBackend


@pytest.fixture
def backend() -> Iterator[FaultyBackend]:
    with FaultyBackend() as server:
        yield server


def received_spans(backend: FaultyBackend) -> list[dict[str, Any]]:
    spans = []
    for body in backend.bodies:
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        for resource_spans in message.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans.append(
                        {
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_id": span.parent_span_id.hex() or None,
                            "name": span.name,
                            "links": [link.span_id.hex() for link in span.links],
                            "events": [
                                (e.name, {a.key: _value(a.value) for a in e.attributes})
                                for e in span.events
                            ],
                        }
                    )
    return spans


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value"))


def evaluations(span: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (attrs["gen_ai.evaluation.name"], attrs.get("gen_ai.evaluation.score.value"))
        for name, attrs in span["events"]
        if name == "gen_ai.evaluation.result"
    ]


def test_feedback_reaches_an_otlp_receiver_once_at_each_moment(backend: FaultyBackend) -> None:
    exporter = OTLPTraceExporter(backend.endpoint, phoenix_annotations=False)
    genai_trace.configure(exporters=[exporter])
    with genai_trace.start_span("open") as open_root:
        genai_trace.log_feedback(open_root.trace_id, "live", 1)
    with genai_trace.start_span("queued") as queued_root:
        pass
    genai_trace.log_feedback(queued_root.trace_id, "queued", 2, source=Source.code("c"))
    assert genai_trace.flush(10)
    with genai_trace.start_span("exported") as exported_root:
        genai_trace.update_current_trace(client_request_id="msg-3")
    assert genai_trace.flush(10)
    genai_trace.log_feedback("msg-3", "exported", 3)
    assert genai_trace.flush(10)
    # another process (or this one, reconfigured): the trace is known by its id only
    genai_trace.configure(
        exporters=[OTLPTraceExporter(backend.endpoint, phoenix_annotations=False)]
    )
    genai_trace.log_feedback(exported_root.trace_id, "later", 4)
    genai_trace.log_feedback("msg-unknown-here", "lost", 5)
    assert genai_trace.flush(10)
    (counts,) = genai_trace.stats()["destinations"].values()

    spans = received_spans(backend)
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    (live,) = by_trace[open_root.trace_id]
    assert (live["name"], evaluations(live)) == ("open", [("live", 1.0)])

    queued_root_span, queued_feedback = by_trace[queued_root.trace_id]
    assert evaluations(queued_root_span) == []
    assert (queued_feedback["name"], queued_feedback["parent_id"], queued_feedback["links"]) == (
        "genai_trace.feedback",
        queued_root.span_id,
        [queued_root.span_id],
    )
    assert evaluations(queued_feedback) == [("queued", 2.0)]
    assert dict(queued_feedback["events"][0][1])["genai_trace.feedback.source.type"] == "CODE"

    exported_span, exported_feedback, later_feedback = by_trace[exported_root.trace_id]
    assert exported_span["name"] == "exported"
    assert (exported_feedback["parent_id"], evaluations(exported_feedback)) == (
        exported_root.span_id,
        [("exported", 3.0)],
    )
    # never seen by this configuration: a root of its own in the same trace
    assert (later_feedback["parent_id"], later_feedback["links"]) == (None, [])
    assert evaluations(later_feedback) == [("later", 4.0)]
    assert len(spans) == 6
    assert (counts["feedback_exported"], counts["feedback_failed"], counts["feedback_lost"]) == (
        1,
        0,
        1,
    )


def test_the_feedback_path_builds_no_records_of_the_traces_it_sends(
    backend: FaultyBackend,
) -> None:
    """Sending reads each trace's views only (the cost of a span): feedback adds no build."""
    from genai_trace._runtime import state

    genai_trace.configure(exporters=[OTLPTraceExporter(backend.endpoint)])
    with genai_trace.start_span("plain") as span:
        pass
    assert genai_trace.flush(10)
    rt = state.current()
    assert rt is not None
    trace = rt.pipeline.recent.get(span.trace_id)
    assert trace is not None
    assert trace._built is None  # type: ignore[attr-defined]
    assert [s["name"] for s in received_spans(backend)] == ["plain"]
