"""otel-collector.yaml: every pipeline names components that are defined, and it routes right."""

from __future__ import annotations

from typing import Any

import yaml

from tests.helpers.paths import REPO_ROOT

CONFIG = REPO_ROOT / "otel-collector.yaml"


def load() -> dict[str, Any]:
    data = yaml.safe_load(CONFIG.read_text())
    assert isinstance(data, dict)
    return data


def test_every_pipeline_names_defined_components() -> None:
    config = load()
    pipelines = config["service"]["pipelines"]
    assert set(pipelines) == {"traces/gateway", "traces/sampled"}
    used: dict[str, set[str]] = {"receivers": set(), "processors": set(), "exporters": set()}
    for name, pipeline in pipelines.items():
        assert name.split("/")[0] == "traces"
        for kind in used:
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{name} uses undefined {kind[:-1]} {component}"
                used[kind].add(component)
        assert pipeline["receivers"] and pipeline["exporters"]
        # The memory limiter must come first in every pipeline that has processors.
        assert pipeline["processors"][0] == "memory_limiter"
    for kind, names in used.items():
        assert names == set(config[kind]), f"defined but unused {kind}: {set(config[kind]) - names}"


def test_fleet_routing_and_backends() -> None:
    config = load()
    exporters = config["exporters"]
    balancing = exporters["loadbalancing"]
    assert balancing["routing_key"] == "traceID"
    routed_port = balancing["resolver"]["dns"]["port"]
    assert config["receivers"]["otlp/routed"]["protocols"]["grpc"]["endpoint"].endswith(
        f":{routed_port}"
    )
    assert exporters["otlphttp/mlflow"]["headers"] == {"x-mlflow-experiment-id": "0"}
    assert exporters["otlphttp/phoenix"]["traces_endpoint"].endswith("/v1/traces")
    policies = {p["type"] for p in config["processors"]["tail_sampling"]["policies"]}
    assert policies == {"status_code", "latency", "boolean_attribute", "probabilistic"}
    sampled = config["service"]["pipelines"]["traces/sampled"]
    assert "tail_sampling" in sampled["processors"]
    assert set(sampled["exporters"]) == {"otlphttp/phoenix", "otlphttp/mlflow", "otlp/backend"}
