"""The hand-written OTLP writer produces the request the official encoder builds.

Each case encodes the same finished SDK spans both ways and compares the decoded
``ExportTraceServiceRequest`` messages: equal messages, field by field.
"""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.trace.span import TraceState

from genai_trace._semantics.redaction import compact_ended_span, dropped_nothing
from genai_trace.exporters._otlp_wire import encode_request

RESOURCE = Resource.create({"service.name": "wire-test", "deployment.environment": "ci"})
TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
OURS = InstrumentationScope("genai_trace")


def _span(
    span_id: int,
    *,
    name: str = "step",
    parent: SpanContext | None = None,
    attributes: dict[str, Any] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    status: Status | None = None,
    events: tuple[Event, ...] = (),
    links: tuple[Link, ...] = (),
    scope: InstrumentationScope | None = OURS,
    trace_state: TraceState | None = None,
    flags: int = 1,
    end: int | None = 1_700_000_000_000_050_000,
) -> ReadableSpan:
    context = SpanContext(
        TRACE_ID, span_id, is_remote=False, trace_flags=TraceFlags(flags), trace_state=trace_state
    )
    return ReadableSpan(
        name=name,
        context=context,
        parent=parent,
        resource=RESOURCE,
        attributes=attributes or {},
        events=events,
        links=links,
        kind=kind,
        status=status or Status(StatusCode.UNSET),
        start_time=1_700_000_000_000_000_000 + span_id,
        end_time=end,
        instrumentation_scope=scope,
    )


def _official(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(encode_spans(spans).SerializeToString())


def _ours(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest.FromString(
        encode_request(RESOURCE, [(span, None) for span in spans])
    )


ATTRIBUTE_VALUES: dict[str, Any] = {
    "text": "What is OTLP?",
    "long_text": "é" * 300,
    "empty_text": "",
    "true": True,
    "false": False,
    "zero": 0,
    "int": 42,
    "negative": -7,
    "int64_max": (1 << 63) - 1,
    "int64_min": -(1 << 63),
    "float": 0.25,
    "float_zero": 0.0,
    "negative_float": -1.5e300,
    "strings": ("a", "b", ""),
    "ints": [1, -2, 3],
    "floats": (0.5, 2.0),
    "bools": (True, False),
    "empty_array": (),
    "bytes": b"\x00\xff",
    "mapping": {"k": "v", "n": 1},
    "none": None,
}


def test_every_attribute_type_encodes_as_the_official_encoder_does() -> None:
    spans = [_span(1, attributes=ATTRIBUTE_VALUES)]
    assert _ours(spans) == _official(spans)


def test_an_int_beyond_int64_is_skipped_like_the_official_encoder_skips_it() -> None:
    spans = [_span(1, attributes={"before": 1, "huge": 1 << 64, "after": 2})]
    ours = _ours(spans)
    assert [kv.key for kv in ours.resource_spans[0].scope_spans[0].spans[0].attributes] == [
        "before",
        "after",
    ]
    assert ours == _official(spans)


@pytest.mark.parametrize("kind", list(SpanKind))
def test_each_span_kind(kind: SpanKind) -> None:
    spans = [_span(1, kind=kind)]
    assert _ours(spans) == _official(spans)


@pytest.mark.parametrize(
    "status",
    [
        Status(StatusCode.UNSET),
        Status(StatusCode.OK),
        Status(StatusCode.ERROR),
        Status(StatusCode.ERROR, "ValueError: boom"),
    ],
)
def test_each_status(status: Status) -> None:
    spans = [_span(1, status=status)]
    assert _ours(spans) == _official(spans)


def test_a_tree_with_local_and_remote_parents_trace_state_and_flags() -> None:
    remote = SpanContext(TRACE_ID, 0xFEED, is_remote=True, trace_flags=TraceFlags(1))
    root = _span(1, name="root", parent=remote, trace_state=TraceState([("vendor", "x:1")]))
    local_parent = root.get_span_context()
    assert local_parent is not None
    child = _span(2, name="child", parent=local_parent, flags=0)
    unfinished = _span(3, name="", parent=local_parent, end=None)
    spans = [root, child, unfinished]
    ours = _ours(spans)
    assert ours.resource_spans[0].scope_spans[0].spans[0].flags == 0x300
    assert ours == _official(spans)


def test_events_and_links_with_attributes() -> None:
    linked = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1))
    local_link = SpanContext(0x1234, 0x9ABC, is_remote=False)
    spans = [
        _span(
            1,
            events=(
                Event("exception", {"exception.type": "ValueError", "n": 3}, timestamp=123),
                Event("empty", timestamp=456),
            ),
            links=(Link(linked, {"why": "retry", "attempt": 2}), Link(local_link)),
        )
    ]
    assert _ours(spans) == _official(spans)


def test_spans_of_several_scopes_are_grouped_per_scope_in_first_seen_order() -> None:
    ours_scope = InstrumentationScope("genai_trace")
    openai_scope = InstrumentationScope(
        "opentelemetry.instrumentation.openai_v2",
        "2.1b0",
        "https://opentelemetry.io/schemas/1.28.0",
        {"library": "openai"},
    )
    spans = [
        _span(1, scope=ours_scope),
        _span(2, scope=openai_scope),
        _span(3, scope=ours_scope),
        _span(4, scope=None),
    ]
    ours = _ours(spans)
    assert [len(s.spans) for s in ours.resource_spans[0].scope_spans] == [2, 1, 1]
    assert ours == _official(spans)


def test_the_resource_is_written_once_with_its_schema_url() -> None:
    resource = Resource({"service.name": "svc", "n": 3}, "https://example.com/schema")
    spans = [_span(i) for i in range(1, 4)]
    official_spans = [
        ReadableSpan(
            name=s.name,
            context=s.context,
            parent=s.parent,
            resource=resource,
            attributes=s.attributes,
            kind=s.kind,
            status=s.status,
            start_time=s.start_time,
            end_time=s.end_time,
            instrumentation_scope=s.instrumentation_scope,
        )
        for s in spans
    ]
    request = encode_request(resource, [(s, None) for s in spans])
    ours = ExportTraceServiceRequest.FromString(request)
    assert len(ours.resource_spans) == 1
    assert ours == _official(official_spans)


def test_attributes_given_beside_a_span_replace_its_own() -> None:
    span = _span(1, attributes={"recorded": "yes"})
    replaced = {"sent": "instead", "n": 1}
    expected = _span(1, attributes=replaced)
    ours = ExportTraceServiceRequest.FromString(encode_request(RESOURCE, [(span, replaced)]))
    assert ours == _official([expected])


def test_many_spans_with_repeated_cached_pairs_stay_equal() -> None:
    attributes = {"openinference.span.kind": "CHAIN", "input.mime_type": "application/json"}
    spans = [_span(i, attributes={**attributes, "i": i, "v": f"value {i}"}) for i in range(1, 300)]
    assert _ours(spans) == _official(spans)
    assert _ours(spans) == _official(spans)  # a second pass: from the caches


def test_no_spans_no_bytes() -> None:
    assert encode_request(RESOURCE, []) == b""


def test_drop_counts_of_real_sdk_spans_compacted_or_not() -> None:
    provider = TracerProvider(
        resource=RESOURCE,
        span_limits=SpanLimits(
            max_span_attributes=2, max_events=1, max_links=1, max_event_attributes=1
        ),
    )
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("genai_trace")
    link = Link(SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1)))
    with tracer.start_as_current_span("drops", links=[link, link]) as span:
        span.set_attributes({"a": 1, "b": 2, "c": 3})
        span.add_event("dropped")  # a bounded list keeps the newest
        span.add_event("kept", {"x": 1, "y": 2})
    with tracer.start_as_current_span("drops nothing") as span:
        span.set_attribute("a", 1)
    spans = list(exporter.get_finished_spans())
    as_recorded = _official(spans)
    for span in spans:
        compact_ended_span(span)
    dropping, clean = spans
    assert (dropping.dropped_attributes, dropping.dropped_events, dropping.dropped_links) == (
        1,
        1,
        1,
    )
    assert not dropped_nothing(dropping)
    assert type(clean._attributes) is dict and dropped_nothing(clean)  # type: ignore[attr-defined]
    written = _ours(spans)
    assert written == _official(spans) == as_recorded
    first = written.resource_spans[0].scope_spans[0].spans[0]
    assert (first.dropped_attributes_count, first.dropped_events_count) == (1, 1)
    assert (first.dropped_links_count, first.events[0].dropped_attributes_count) == (1, 1)
    provider.shutdown()
