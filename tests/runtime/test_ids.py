"""Trace ids: the second they were made first, 96 random bits after (X-Ray's layout).

The local store indexes traces by id: ids that grow with time are added at the end of the
index. W3C's ``random`` flag, which the SDK sets for our generator, still holds.
"""

from __future__ import annotations

import time

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased

import genai_trace
from genai_trace.exporters import InMemoryTraceExporter


def test_trace_ids_start_with_their_second_and_end_in_random_bits(
    exporter: InMemoryTraceExporter,
) -> None:
    flags: list[trace_api.TraceFlags] = []

    @genai_trace.trace
    def step(i: int) -> int:
        flags.append(trace_api.get_current_span().get_span_context().trace_flags)
        return i

    before = int(time.time())
    for i in range(200):
        step(i)
    after = int(time.time())
    assert genai_trace.flush(10)
    ids = [trace.info.trace_id for trace in exporter.get_finished_traces()]
    assert len(ids) == 200
    assert all(before <= int(trace_id[:8], 16) <= after for trace_id in ids)
    assert len({trace_id[8:] for trace_id in ids}) == 200  # the random part differs each time
    assert len({trace_id[-16:] for trace_id in ids}) == 200  # what ratio samplers read
    assert all(f.sampled and f & trace_api.TraceFlags.RANDOM_TRACE_ID for f in flags)


def test_a_trace_id_given_by_the_caller_is_kept_as_it_is(exporter: InMemoryTraceExporter) -> None:
    client = genai_trace.TraceClient()
    given = "0123456789abcdef0123456789abcdef"
    root = client.start_trace("job", trace_id=given)
    client.end_trace(trace_id=root.trace_id)
    assert genai_trace.flush(10)
    (trace,) = exporter.get_finished_traces()
    assert trace.info.trace_id == given


def test_an_apps_ratio_sampler_still_keeps_its_share_of_our_traces() -> None:
    # TraceIdRatioBased reads a trace id's low 64 bits: random in ours, whatever the second.
    provider = TracerProvider(sampler=TraceIdRatioBased(0.5))
    exporter = InMemoryTraceExporter()
    genai_trace.configure(tracer_provider=provider, exporters=[exporter], local_store=False)

    @genai_trace.trace
    def step(i: int) -> int:
        return i

    for i in range(1000):
        step(i)
    assert genai_trace.flush(10)
    kept = len(exporter.get_finished_traces())
    assert 400 <= kept <= 600  # 500 expected; the bounds are over six standard deviations
    provider.shutdown()
