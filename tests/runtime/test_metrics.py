"""GenAI metrics: the conventions' instruments, each call once, on the app's MeterProvider.

Read back from an in-memory metric reader on a real SDK MeterProvider, and from a real
OTLP/HTTP receiver on 127.0.0.1 that decodes ``ExportMetricsServiceRequest`` (when the app
has no MeterProvider, genai-trace's own sends next to the traces). The calls come from the
real OpenAI client against the local API server, through the official instrumentation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import genai_trace
from genai_trace import SpanType
from genai_trace._runtime import state
from genai_trace._runtime.metrics import MetricsRecorder
from genai_trace.exporters import ExportResult
from tests.helpers.genai_support import instrumentation_env
from tests.helpers.servers.openai_server import OpenAIServer, serve
from tests.helpers.servers.otlp_receiver import OTLPReceiver

O4_MINI_COST = (2 * 1.10 + 6 * 0.275 + 14 * 4.40) * 1e-6
CALL = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "o4-mini",
    "genai_trace.span.type": "CHAT_MODEL",
}


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with instrumentation_env(), serve(first_chunk_delay_s=0.0) as fake:
        yield fake


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


def configure(reader: InMemoryMetricReader, **settings: Any) -> None:
    genai_trace.configure(exporters=[], meter_provider=MeterProvider([reader]), **settings)


def chat(server: OpenAIServer, model: str = "o4-mini") -> None:
    assert genai_trace.autolog("openai") == ["openai"]
    client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "one two three four five six seven eight"}],
        extra_headers={"x-fake-cached-tokens": "6", "x-fake-reasoning-tokens": "4"},
    )


def points(reader: InMemoryMetricReader) -> dict[str, list[dict[str, Any]]]:
    """Our scope's data points by metric name: attributes and value (sum, count)."""
    genai_trace.flush()
    data = reader.get_metrics_data()
    found: dict[str, list[dict[str, Any]]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            if scope_metrics.scope.name != "genai_trace":
                continue
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    found.setdefault(metric.name, []).append(
                        {"attributes": dict(point.attributes or {}),
                         "value": value if value is not None else (point.count, point.sum)}
                    )  # fmt: skip
    return found


def test_a_wrapped_call_is_counted_once_by_token_kind_with_its_cost_and_duration(
    server: OpenAIServer, reader: InMemoryMetricReader
) -> None:
    configure(reader)
    with genai_trace.start_span("agent", span_type=SpanType.AGENT):
        with genai_trace.start_span("llm", span_type=SpanType.LLM) as manual:
            chat(server)
            manual.set_token_usage(8, 14, cache_read_input_tokens=6, reasoning_tokens=4)
        with genai_trace.start_span("search", span_type=SpanType.TOOL) as tool:
            tool.set_cost(0.5)
    found = points(reader)
    duration = found.pop("gen_ai.client.inference.duration")
    assert [(p["attributes"], p["value"][0]) for p in duration] == [(CALL, 1)]
    assert found.pop("gen_ai.client.inference.usage.input_tokens") == [
        {"attributes": CALL, "value": 8}
    ]
    assert found.pop("gen_ai.client.inference.usage.output_tokens") == [
        {"attributes": CALL, "value": 14}
    ]
    assert found.pop("gen_ai.client.inference.usage.cache_read.input_tokens") == [
        {"attributes": CALL, "value": 6}
    ]
    assert found.pop("gen_ai.client.inference.usage.reasoning.output_tokens") == [
        {"attributes": CALL, "value": 4}
    ]
    cost = {
        tuple(sorted(p["attributes"].items())): p["value"] for p in found.pop("genai_trace.cost")
    }
    assert cost == {
        tuple(sorted(CALL.items())): pytest.approx(O4_MINI_COST),
        (("gen_ai.operation.name", "chat"), ("genai_trace.span.type", "TOOL")): 0.5,
    }
    steps = {
        name: [(p["attributes"], p["value"][0]) for p in found.pop(name)]
        for name in ("gen_ai.invoke_agent.duration", "gen_ai.execute_tool.duration")
    }
    assert steps == {
        "gen_ai.invoke_agent.duration": [({"genai_trace.span.type": "AGENT"}, 1)],
        "gen_ai.execute_tool.duration": [({"genai_trace.span.type": "TOOL"}, 1)],
    }
    assert found == {}  # no older names unless asked, nothing else


def test_the_older_names_are_recorded_when_asked_except_where_the_instrumentation_does(
    server: OpenAIServer, reader: InMemoryMetricReader
) -> None:
    configure(reader, metrics_legacy_names=True)
    with genai_trace.start_span("manual", span_type=SpanType.CHAT_MODEL) as span:
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_token_usage(10, 5)
    chat(server)  # its instrumentation records the older names itself
    found = points(reader)
    manual = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
              "genai_trace.span.type": "CHAT_MODEL"}  # fmt: skip
    usage = sorted(
        (p["attributes"]["gen_ai.token.type"], p["value"])
        for p in found["gen_ai.client.token.usage"]
    )
    assert usage == [("input", (1, 10)), ("output", (1, 5))]
    assert [p["attributes"] for p in found["gen_ai.client.operation.duration"]] == [manual]
    assert len(found["gen_ai.client.inference.duration"]) == 2  # the new names: both calls


def test_a_failed_call_has_a_duration_with_its_error_type(
    reader: InMemoryMetricReader,
) -> None:
    configure(reader)
    with (
        pytest.raises(TimeoutError),
        genai_trace.start_span("call", span_type=SpanType.LLM) as span,
    ):
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        raise TimeoutError("slow")
    found = points(reader)
    assert [p["attributes"] for p in found.pop("gen_ai.client.inference.duration")] == [
        {"gen_ai.operation.name": "text_completion", "gen_ai.request.model": "gpt-4o",
         "genai_trace.span.type": "LLM", "error.type": "TimeoutError"}
    ]  # fmt: skip
    assert found == {}  # no usage, no cost: nothing counted


def test_without_a_meter_provider_or_an_endpoint_nothing_is_recorded() -> None:
    genai_trace.configure(exporters=[])
    rt = state.current()
    assert rt is not None
    assert not any(
        isinstance(e, MetricsRecorder)
        for d in rt.pipeline.destinations
        for e in (d.exporter, *d.riders)
    )


def test_metrics_off_records_nothing(reader: InMemoryMetricReader) -> None:
    configure(reader, metrics=False)
    with genai_trace.start_span("manual", span_type=SpanType.LLM) as span:
        span.set_token_usage(10, 5)
    assert points(reader) == {}


def test_without_an_app_provider_metrics_go_over_otlp_next_to_the_traces(
    server: OpenAIServer,
) -> None:
    with OTLPReceiver() as receiver:
        genai_trace.configure(local_store=False, otlp_endpoint=receiver.endpoint)
        with genai_trace.start_span("agent"):
            chat(server)
        genai_trace.shutdown()  # the final export of genai-trace's own provider
        assert set(receiver.paths()) == {"/v1/traces", "/v1/metrics"}
        ours = [p for p in receiver.metrics() if p["scope"] == "genai_trace"]
    by_name = {p["name"]: p for p in ours}
    assert by_name["gen_ai.client.inference.usage.input_tokens"] == {
        "scope": "genai_trace", "name": "gen_ai.client.inference.usage.input_tokens",
        "unit": "{token}", "kind": "sum", "attributes": CALL, "value": 8,
    }  # fmt: skip
    assert by_name["gen_ai.client.inference.usage.cache_read.input_tokens"]["value"] == 6
    assert by_name["gen_ai.client.inference.duration"]["count"] == 1
    assert by_name["genai_trace.cost"]["value"] == pytest.approx(O4_MINI_COST)


def test_a_backend_that_takes_no_metrics_is_told_once_then_left_alone(
    server: OpenAIServer, caplog: pytest.LogCaptureFixture
) -> None:
    with OTLPReceiver(metrics_status=404) as receiver:
        genai_trace.configure(local_store=False, otlp_endpoint=receiver.endpoint)
        rt = state.current()
        assert rt is not None
        (recorder,) = [
            e
            for d in rt.pipeline.destinations
            for e in (d.exporter, *d.riders)
            if isinstance(e, MetricsRecorder)
        ]
        for _ in range(3):
            with genai_trace.start_span("agent"):
                chat(server)
            genai_trace.flush()
            recorder.force_flush()
        assert receiver.paths().count("/v1/metrics") == 1  # refused once, then not asked
        assert receiver.paths().count("/v1/traces") >= 1  # traces are not affected
    said = [r.getMessage() for r in caplog.records if r.name == "genai_trace"]
    assert len([m for m in said if "did not take GenAI metrics" in m]) == 1


def test_a_trace_with_nothing_to_measure_is_not_finalized_for_metrics(
    reader: InMemoryMetricReader,
) -> None:
    finalized_at_export: dict[str, bool] = {}

    class Recorder:
        """A destination that looks at whether each trace was finalized before it."""

        def export(self, traces: Any) -> ExportResult:
            for trace in traces:
                finalized_at_export[trace.client_request_id] = trace._views is not None
            return ExportResult.SUCCESS

        def shutdown(self) -> None:
            pass

    genai_trace.configure(exporters=[Recorder()], meter_provider=MeterProvider([reader]))
    with genai_trace.start_span("plain", span_type=SpanType.CHAIN):
        genai_trace.update_current_trace(client_request_id="plain")
        with genai_trace.start_span("step"):
            pass
    with genai_trace.start_span("call", span_type=SpanType.LLM) as span:
        genai_trace.update_current_trace(client_request_id="call")
        span.set_token_usage(10, 5)
    assert genai_trace.flush(10)
    # The metrics read the call's trace (its views made on their way), and passed the plain
    # one over without making its views: that work is left to the exporters that need it.
    assert finalized_at_export == {"plain": False, "call": True}
    assert (
        sum(p["value"] for p in points(reader)["gen_ai.client.inference.usage.input_tokens"]) == 10
    )
