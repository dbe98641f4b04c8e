"""Smoke test of the real-backend fixtures: plain OpenTelemetry spans, official OTLP exporters.

Each test sends a two-span trace (a CHAIN parent with JSON input, an LLM child) through an
isolated TracerProvider (never the global one) and reads it back from the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from tests.helpers.backends import MlflowServer, PhoenixServer, RotelCollector

pytest_plugins = ["tests.helpers.backends"]
# Needs Phoenix, MLflow and rotel: `pytest -m 'not backend'` leaves this module out.
pytestmark = pytest.mark.backend

PARENT_INPUT = {"question": "What is OTLP?", "top_k": 3}


@dataclass(frozen=True)
class SentTrace:
    trace_id: str
    parent_name: str
    parent_id: str
    child_name: str
    child_id: str


def send_two_span_trace(exporter: SpanExporter, label: str) -> SentTrace:
    provider = TracerProvider(resource=Resource.create({"service.name": "genai-trace-smoke"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("genai-trace-smoke")
    parent_name, child_name = f"smoke-chain-{label}", f"smoke-llm-{label}"
    try:
        with tracer.start_as_current_span(
            parent_name,
            attributes={
                "openinference.span.kind": "CHAIN",
                "input.value": json.dumps(PARENT_INPUT),
                "input.mime_type": "application/json",
            },
        ) as parent:
            with tracer.start_as_current_span(
                child_name,
                attributes={"openinference.span.kind": "LLM", "llm.model_name": "smoke-model"},
            ) as child:
                pass
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()
    return SentTrace(
        trace_id=format(parent.get_span_context().trace_id, "032x"),
        parent_name=parent_name,
        parent_id=format(parent.get_span_context().span_id, "016x"),
        child_name=child_name,
        child_id=format(child.get_span_context().span_id, "016x"),
    )


def assert_phoenix_has(phoenix: PhoenixServer, sent: SentTrace) -> None:
    spans = phoenix.spans(sent.trace_id, expect=2)
    by_name: dict[str, dict[str, Any]] = {span["name"]: span for span in spans}
    assert sorted(by_name) == sorted([sent.parent_name, sent.child_name])
    parent, child = by_name[sent.parent_name], by_name[sent.child_name]
    assert parent["context"] == {"trace_id": sent.trace_id, "span_id": sent.parent_id}
    assert child["context"] == {"trace_id": sent.trace_id, "span_id": sent.child_id}
    assert parent["parent_id"] is None
    assert child["parent_id"] == sent.parent_id
    assert (parent["span_kind"], child["span_kind"]) == ("CHAIN", "LLM")
    assert json.loads(parent["attributes"]["input.value"]) == PARENT_INPUT
    assert parent["attributes"]["input.mime_type"] == "application/json"


def assert_mlflow_has(mlflow_server: MlflowServer, sent: SentTrace) -> None:
    spans = mlflow_server.spans(sent.trace_id, expect=2)
    by_name = {span["name"]: span for span in spans}
    assert sorted(by_name) == sorted([sent.parent_name, sent.child_name])
    parent, child = by_name[sent.parent_name], by_name[sent.child_name]
    assert {parent["trace_id"], child["trace_id"]} == {sent.trace_id}
    assert (parent["span_id"], child["span_id"]) == (sent.parent_id, sent.child_id)
    assert parent["parent_id"] is None
    assert child["parent_id"] == sent.parent_id
    assert (parent["span_type"], child["span_type"]) == ("CHAIN", "LLM")
    # JSON input with mime type application/json arrives structured.
    assert parent["attributes"]["mlflow.spanInputs"] == {"question": "What is OTLP?", "top_k": 3}


def test_phoenix_over_otlp_http(phoenix: PhoenixServer) -> None:
    sent = send_two_span_trace(HttpSpanExporter(endpoint=phoenix.otlp_http_endpoint), "http")
    assert_phoenix_has(phoenix, sent)


def test_phoenix_over_otlp_grpc(phoenix: PhoenixServer) -> None:
    exporter = GrpcSpanExporter(endpoint=phoenix.otlp_grpc_endpoint, insecure=True)
    sent = send_two_span_trace(exporter, "grpc")
    assert_phoenix_has(phoenix, sent)


def test_mlflow_over_otlp_http(mlflow_server: MlflowServer) -> None:
    exporter = HttpSpanExporter(
        endpoint=mlflow_server.otlp_http_endpoint, headers=mlflow_server.headers
    )
    sent = send_two_span_trace(exporter, "mlflow")
    assert_mlflow_has(mlflow_server, sent)
    trace = mlflow_server.trace(sent.trace_id, expect_spans=2)
    assert trace["trace_info"]["trace_id"] == f"tr-{sent.trace_id}"
    assert trace["trace_info"]["state"] == "OK"
    assert json.loads(trace["trace_info"]["request_preview"]) == PARENT_INPUT
    found = [info["trace_id"] for info in mlflow_server.search_traces()]
    assert f"tr-{sent.trace_id}" in found


def test_phoenix_through_rotel(rotel_to_phoenix: RotelCollector, phoenix: PhoenixServer) -> None:
    sent = send_two_span_trace(
        HttpSpanExporter(endpoint=rotel_to_phoenix.otlp_http_endpoint), "rotel"
    )
    assert_phoenix_has(phoenix, sent)


def test_mlflow_through_rotel(rotel_to_mlflow: RotelCollector, mlflow_server: MlflowServer) -> None:
    sent = send_two_span_trace(
        HttpSpanExporter(endpoint=rotel_to_mlflow.otlp_http_endpoint), "rotel-mlflow"
    )
    assert_mlflow_has(mlflow_server, sent)
