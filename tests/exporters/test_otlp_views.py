"""OTLP from span views: the request the default dialect writes without building records.

Traces recorded through the public API (and foreign spans, as an autolog instrumentation
records them) are encoded twice: from the views (``_from_views``, the export path) and from
the built records (the dialect over the :class:`Trace`, spans rebuilt). Both requests,
decoded with opentelemetry-proto, must be the same message, and the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource

import genai_trace
from genai_trace._runtime.deferred import DeferredTrace
from genai_trace._semantics.model import Trace
from genai_trace.exporters._otel_spans import record_scope, to_otel_spans
from genai_trace.exporters._otlp_wire import encode_request
from genai_trace.exporters.dialects import default
from genai_trace.exporters.otlp import _from_views

RESOURCE = Resource.create({"service.name": "views-test"})
SECRET = "sk-proj-abcdefghijklmnopqrstuvwx"


class Recorder:
    """Keeps the traces as the pipeline hands them over (unbuilt)."""

    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def export(self, traces: list[Trace]) -> genai_trace.ExportResult:
        self.traces.extend(traces)
        return genai_trace.ExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def _plain() -> None:
    @genai_trace.trace
    def answer(question: str) -> str:
        return "42 " + SECRET

    answer("why? " + SECRET)


def _text_io() -> None:
    @genai_trace.trace
    def echo(text: str) -> str:
        return text

    echo("same text both ways")


def _eleven_with_previews_tags_metadata_session() -> None:
    @genai_trace.trace(span_type="RETRIEVER")
    def fetch(i: int) -> dict[str, Any]:
        return {"doc": i}

    @genai_trace.trace
    def pipeline(question: str) -> list[Any]:
        genai_trace.update_current_trace(
            request_preview="explicit request",
            tags={"team": "search"},
            metadata={"run": 7, "nested": {"a": [1, 2]}},
        )
        return [fetch(i) for i in range(10)]

    with genai_trace.context(session_id="sess-1", user_id="user-1", tags={"env": "ci"}):
        pipeline("q")


def _error_and_events() -> None:
    @genai_trace.trace
    def fails() -> None:
        genai_trace.get_current_span().add_event("checkpoint", {"step": 1})
        raise ValueError("boom")

    with pytest.raises(ValueError):
        fails()


def _llm_with_usage() -> None:
    with genai_trace.start_span("llm", span_type="LLM") as span:
        span.set_inputs({"messages": [{"role": "user", "content": "hi"}]})
        span.set_outputs({"choices": [{"message": {"role": "assistant", "content": "yo"}}],
                          "usage": {"prompt_tokens": 3, "completion_tokens": 2}})  # fmt: skip


def _remote_parent() -> None:
    carrier = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with genai_trace.extract(carrier), genai_trace.start_span("served") as span:
        span.set_inputs({"q": 1})


def _foreign_genai_span() -> None:
    tracer = trace_api.get_tracer("opentelemetry.instrumentation.openai_v2", "2.0")
    with genai_trace.start_span("agent"), tracer.start_as_current_span("chat gpt-4o") as span:
        span.set_attribute("gen_ai.operation.name", "chat")
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_attribute("gen_ai.usage.input_tokens", 5)


def _foreign_plain_span() -> None:
    tracer = trace_api.get_tracer("some.http.lib", "1.2")
    with genai_trace.start_span("agent"), tracer.start_as_current_span("GET /"):
        pass


CASES: dict[str, tuple[Callable[[], None], bool]] = {  # name: (record it, sent from views)
    "plain": (_plain, True),
    "text io (computed preview not repeated)": (_text_io, True),
    "11 spans, previews, tags, metadata, session, user": (
        _eleven_with_previews_tags_metadata_session,
        True,
    ),
    "error and events": (_error_and_events, True),
    "llm usage from the output": (_llm_with_usage, True),
    "remote parent": (_remote_parent, True),
    "foreign GenAI span (needs its record)": (_foreign_genai_span, False),
    "foreign plain span": (_foreign_plain_span, True),
}


def _from_records(trace: Trace) -> bytes:
    built = trace.built() if isinstance(trace, DeferredTrace) else trace
    rebuilt = to_otel_spans(built, default.span_attributes(built), RESOURCE)
    return encode_request(RESOURCE, [(span, None) for span in rebuilt], record_scope)


def _decoded(data: bytes) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(data)


@pytest.mark.parametrize("case", list(CASES))
def test_the_request_from_views_is_the_request_from_records(case: str) -> None:
    record, from_views = CASES[case]
    recorder = Recorder()
    genai_trace.configure(exporters=[recorder])
    record()
    genai_trace.flush()
    (trace,) = recorder.traces
    assert isinstance(trace, DeferredTrace) and trace._built is None

    sent = _from_views(trace)
    assert (sent is not None) is from_views
    if sent is None:
        return
    assert trace._built is None  # the views path built no record
    views_bytes = encode_request(RESOURCE, sent, record_scope)
    info = trace.view_info()
    records_bytes = _from_records(trace)

    assert _decoded(views_bytes) == _decoded(records_bytes)
    assert views_bytes == records_bytes
    assert info == trace.built().info
    assert SECRET.encode() not in views_bytes  # redacted before any exporter


def test_one_batch_mixing_views_and_records_groups_scopes_as_records_do() -> None:
    recorder = Recorder()
    genai_trace.configure(exporters=[recorder])
    _plain()
    _foreign_plain_span()
    genai_trace.flush()
    first, second = recorder.traces
    sent = [*(_from_views(first) or []), *(_from_views(second) or [])]
    assert len(sent) == 3
    mixed = encode_request(RESOURCE, sent, record_scope)
    rebuilt = [
        (span, None)
        for trace in (first, second)
        for span in to_otel_spans(trace, default.span_attributes(trace), RESOURCE)
    ]
    assert mixed == encode_request(RESOURCE, rebuilt, record_scope)
    scopes = [s.scope for r in _decoded(mixed).resource_spans for s in r.scope_spans]
    assert [(s.name, s.version) for s in scopes] == [("genai_trace", ""), ("some.http.lib", "")]


def test_the_otlp_exporter_lets_each_traces_views_go_once_every_destination_sent_it() -> None:
    """Over HTTP to a real receiver: the batch's request is written a trace at a time, and
    each trace's views go once both destinations have read them; what arrives is the
    request the records would make."""
    from genai_trace.exporters.otlp import OTLPTraceExporter
    from tests.helpers.servers.otlp_receiver import OTLPReceiver

    with OTLPReceiver() as receiver:
        recorder = Recorder()
        otlp = OTLPTraceExporter(receiver.endpoint)
        genai_trace.configure(exporters=[otlp, recorder], metrics=False)
        for record, _ in CASES.values():
            record()
        assert genai_trace.flush(10)
        traces = recorder.traces
        assert all(isinstance(t, DeferredTrace) for t in traces)
        assert all(t._views is None and t._info is None for t in traces)  # type: ignore[attr-defined]
        assert all(t._readers == 0 for t in traces)  # type: ignore[attr-defined]
        (body,) = [body for path, body in receiver.received if path == "/v1/traces"]

    arrived = _decoded(body)
    resource = arrived.resource_spans[0].resource
    spans = [s for r in arrived.resource_spans for ss in r.scope_spans for s in ss.spans]
    expected = _decoded(
        encode_request(
            RESOURCE,
            [
                (span, None)
                for t in traces
                for span in to_otel_spans(t, default.span_attributes(t), RESOURCE)
            ],
            record_scope,
        )
    )
    assert spans == [s for r in expected.resource_spans for ss in r.scope_spans for s in ss.spans]
    assert resource.attributes  # the provider's resource, service name and all
    assert SECRET.encode() not in body
