"""Peer libraries, each set up as its documentation says, exporting to a no-op sink.

A peer's scenario returns ``(decorator, flush)``. Importing the peer is the first thing each
setup does, so a peer that is not installed raises ``ImportError`` and its row is skipped.
No scenario touches the network: every exporter is replaced by a local one that drops spans.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from bench._sinks import NoopSpanExporter
from bench._workload import Decorator

Setup = tuple[Decorator, Callable[[], object]]

_NOWHERE = "http://127.0.0.1:9"  # the discard port: a stray request fails at once

# Set before any peer is imported: keep every peer local and quiet. Reserved addresses and
# dummy keys make an accidental network call fail at once instead of reaching a service.
QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "LOGFIRE_SEND_TO_LOGFIRE": "false",
    "LANGFUSE_PUBLIC_KEY": "pk-lf-bench",
    "LANGFUSE_SECRET_KEY": "sk-lf-bench",
    "LANGFUSE_HOST": _NOWHERE,
    "LANGFUSE_BASE_URL": _NOWHERE,
}


def openinference() -> Setup:
    """``tracer.chain`` from an OpenInference ``TracerProvider`` (captures inputs/outputs)."""
    from openinference.instrumentation import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(NoopSpanExporter()))
    tracer = provider.get_tracer("bench.openinference")
    return tracer.chain, provider.force_flush


def logfire() -> Setup:
    """``logfire.instrument(record_return=True)``: arguments are recorded by default."""
    import logfire as lf
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    lf.configure(
        send_to_logfire=False,
        console=False,
        metrics=False,
        additional_span_processors=[BatchSpanProcessor(NoopSpanExporter())],
    )
    return lf.instrument(record_return=True), lf.force_flush


def langfuse() -> Setup:
    """``@observe`` with the client's span exporter replaced (``span_exporter=``)."""
    from langfuse import Langfuse, observe

    client = Langfuse(
        public_key=QUIET_ENV["LANGFUSE_PUBLIC_KEY"],
        secret_key=QUIET_ENV["LANGFUSE_SECRET_KEY"],
        base_url=QUIET_ENV["LANGFUSE_BASE_URL"],
        span_exporter=NoopSpanExporter(),
    )
    return observe, client.flush


def mlflow() -> Setup:
    """``@mlflow.trace`` with MLflow's own span processor and a sink in place of the server.

    MLflow has no public switch for a custom exporter (its destinations are a tracking
    server, Databricks or OTLP), so the bench swaps the processor list it builds: the
    MLflow processor still does its per-span work, and the exporter drops each finished
    trace where the real one would queue it for upload.

    The destination names an experiment id: mlflow-tracing (the skinny package) has no
    tracking store to look a default experiment up in, and without one every span quietly
    degrades to a no-op (which the sink's span count shows as 0%).
    """
    import mlflow as mf
    from mlflow.entities.trace_location import MlflowExperimentLocation
    from mlflow.tracing import provider as mlflow_provider
    from mlflow.tracing.processor.mlflow_v3 import MlflowV3SpanProcessor
    from mlflow.tracing.trace_manager import InMemoryTraceManager
    from opentelemetry.sdk.trace.export import SpanExportResult

    class DropTraces(NoopSpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            NoopSpanExporter.exported += len(spans)
            manager = InMemoryTraceManager.get_instance()
            for span in spans:
                if span.parent is None:  # a root: the trace is whole, take it out and drop it
                    manager.pop_trace(span.context.trace_id)
            return SpanExportResult.SUCCESS

    def processors(disabled: bool = False) -> list[Any]:
        return [] if disabled else [MlflowV3SpanProcessor(DropTraces(), export_metrics=False)]

    mlflow_provider._get_span_processors = processors
    # A server URI as the docs set one; nothing talks to it, the sink replaces the uploader.
    mf.set_tracking_uri(_NOWHERE)
    mf.tracing.set_destination(MlflowExperimentLocation(experiment_id="0"))
    return mf.trace, lambda: None  # the processor exports synchronously in on_end


PEERS: dict[str, Callable[[], Setup]] = {
    "openinference": openinference,
    "logfire": logfire,
    "langfuse": langfuse,
    "mlflow": mlflow,
}


def apply_quiet_env() -> None:
    """Keep every peer local; called by the runner before the peer is imported."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
