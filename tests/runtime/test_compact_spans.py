"""Ended spans kept for export hold plain containers, and every reader sees the same span.

The assembler swaps an ended span's empty SDK containers (``BoundedAttributes``, empty
``BoundedList``s) for a dict and empty tuples: fewer objects for the garbage collector to
walk while the trace waits. The span is one object shared by every processor of the app's
provider, so the app's own exporters, before and after genai-trace's processor, must read
exactly what they read without it: attributes, events, links and drop counts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_trace
from genai_trace.exporters import InMemoryTraceExporter

_App = tuple[TracerProvider, InMemorySpanExporter, InMemorySpanExporter, InMemoryTraceExporter]


@pytest.fixture
def app() -> Iterator[_App]:
    """An app's own provider (at most 4 attributes a span), an exporter registered before
    genai-trace's processor and one after it, and genai-trace's own destination."""
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4))
    before, after, ours = InMemorySpanExporter(), InMemorySpanExporter(), InMemoryTraceExporter()
    provider.add_span_processor(SimpleSpanProcessor(before))
    genai_trace.configure(tracer_provider=provider, exporters=[ours], local_store=False)
    provider.add_span_processor(SimpleSpanProcessor(after))
    yield provider, before, after, ours
    provider.shutdown()


def _public(span: ReadableSpan) -> tuple[object, ...]:
    return (
        span.name,
        dict(span.attributes or {}),
        [(e.name, dict(e.attributes or {})) for e in span.events],
        list(span.links),
        span.dropped_attributes,
        span.dropped_events,
        span.dropped_links,
    )


def test_the_apps_exporters_read_the_same_spans_and_plain_spans_are_compacted(
    app: _App,
) -> None:
    provider, before, after, ours = app
    tracer = provider.get_tracer("app")
    with genai_trace.start_span("plain", attributes={"k": "v"}):
        with tracer.start_as_current_span("with event") as span:
            span.add_event("retry", {"attempt": 2})
        with tracer.start_as_current_span("too many") as span:
            for i in range(6):
                span.set_attribute(f"a{i}", i)
    assert genai_trace.flush(10)

    expected = {
        "with event": ("with event", {}, [("retry", {"attempt": 2})], [], 0, 0, 0),
        "too many": ("too many", {"a2": 2, "a3": 3, "a4": 4, "a5": 5}, [], [], 2, 0, 0),
    }
    for exporter in (before, after):
        spans = {s.name: s for s in exporter.get_finished_spans()}
        assert sorted(spans) == ["plain", "too many", "with event"]
        for name, public in expected.items():
            assert _public(spans[name]) == public
        plain = _public(spans["plain"])
        assert plain[1]["k"] == "v" and plain[2:] == ([], [], 0, 0, 0)
        # The official encoder reads them as any span.
        encoded = encode_spans(list(spans.values()))
        (scope_spans,) = encoded.resource_spans
        assert sum(len(s.spans) for s in scope_spans.scope_spans) == 3

    spans = {s.name: s for s in after.get_finished_spans()}
    # One object shared by every processor: compacted where nothing is lost, only there.
    assert type(spans["plain"]._attributes) is dict
    assert spans["plain"]._events == () and spans["plain"]._links == ()
    assert type(spans["with event"]._events) is not tuple  # it holds an event
    assert type(spans["too many"]._attributes) is not dict  # it dropped two: its count stays

    (trace,) = ours.get_finished_traces()  # genai-trace's own record of the same spans
    records = {s.name: s for s in trace.spans}
    assert records["plain"].attributes["k"] == "v"
    assert [e.name for e in records["with event"].events] == ["retry"]
    assert {k: v for k, v in records["too many"].attributes.items() if k[0] == "a"} == {
        "a2": 2, "a3": 3, "a4": 4, "a5": 5
    }  # fmt: skip


def test_a_span_that_refuses_the_swap_keeps_its_containers_and_its_trace() -> None:
    """An SDK whose ended spans cannot be changed: nothing is swapped, nothing is lost."""
    from genai_trace._semantics.redaction import compact_ended_span

    class Frozen:
        __slots__ = ("_attributes",)

        def __init__(self) -> None:
            object.__setattr__(self, "_attributes", _Bounded({"k": "v"}))

        def __setattr__(self, name: str, value: object) -> None:
            raise AttributeError(f"{name} is read-only")

    frozen = Frozen()
    compact_ended_span(frozen)  # no exception
    assert type(frozen._attributes) is _Bounded


class _Bounded:
    def __init__(self, values: dict[str, str]) -> None:
        self._dict = values
        self.dropped = 0
