"""GenAI metrics from finished traces, through the OpenTelemetry metrics API.

A rider of the pipeline's first destination (:class:`MetricsRecorder`, see
``pipeline.Destination.riders``): it reads each whole trace on that export thread, so the
app's thread does nothing more than queue the trace, and each call is recorded once by the
billing rule of ``_semantics.facts`` (a manual LLM span around an instrumented call, or two
instrumentations of one call, make one call).
It sees every trace, before any sampling: metrics count every call.

The instruments are those of the current OpenTelemetry GenAI conventions (token counters by
kind, ``gen_ai.client.inference.duration``, agent, tool and workflow durations), plus the
cost as a counter; the older ``gen_ai.client.token.usage`` and
``gen_ai.client.operation.duration`` behind ``metrics_legacy_names``. Attributes are few and
bounded: operation, provider, model, span type, error type; never ids, users or sessions.

The meter comes from the app's ``MeterProvider``; when it has none and traces go to an OTLP
backend, from a provider of genai-trace's own that sends them there (never set as global).

Layer: ``_runtime``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from opentelemetry import metrics as metrics_api
from opentelemetry.metrics import Meter, MeterProvider

from genai_trace._errors import logger
from genai_trace._runtime.deferred import DeferredTrace
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.facts import billed_spans, span_type_of
from genai_trace._semantics.model import Trace
from genai_trace.exporters._base import ExportResult

INFERENCE_DURATION = "gen_ai.client.inference.duration"
USAGE_COUNTERS = {
    "input_tokens": "gen_ai.client.inference.usage.input_tokens",
    "output_tokens": "gen_ai.client.inference.usage.output_tokens",
    "cache_read_input_tokens": "gen_ai.client.inference.usage.cache_read.input_tokens",
    "cache_write_input_tokens": "gen_ai.client.inference.usage.cache_write.input_tokens",
    "reasoning_tokens": "gen_ai.client.inference.usage.reasoning.output_tokens",
}
"""``TokenUsage`` field to the conventions' counter of that token kind."""
STEP_DURATIONS = {
    "AGENT": "gen_ai.invoke_agent.duration",
    "TOOL": "gen_ai.execute_tool.duration",
    "WORKFLOW": "gen_ai.invoke_workflow.duration",
}
COST = "genai_trace.cost"
"""US dollars spent, by model (the conventions have no cost metric)."""
LEGACY_TOKEN_USAGE = "gen_ai.client.token.usage"
LEGACY_OPERATION_DURATION = "gen_ai.client.operation.duration"

_DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24,
                     20.48, 40.96, 81.92)  # fmt: skip
_TOKEN_BUCKETS = tuple(4**i for i in range(14))  # 1 to 67,108,864, as the conventions say
_OPERATION_OF_TYPE = {"CHAT_MODEL": "chat", "LLM": "text_completion", "EMBEDDING": "embeddings"}
_MEASURED_TYPES = frozenset({*sc.LLM_SPAN_TYPES, *STEP_DURATIONS})
# The official instrumentations record the older names (and agent, tool and workflow
# durations) for their own spans: recording them again would count those calls twice.
_SELF_MEASURED_SCOPES = ("opentelemetry.instrumentation",)


class _Instruments:
    """The instruments, made once per meter."""

    def __init__(self, meter: Meter, legacy_names: bool) -> None:
        self.inference_duration = meter.create_histogram(
            INFERENCE_DURATION,
            unit="s",
            description="Duration of a GenAI inference call",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self.usage = {
            field: meter.create_counter(name, unit="{token}", description=f"GenAI {field}")
            for field, name in USAGE_COUNTERS.items()
        }
        self.steps = {
            span_type: meter.create_histogram(
                name,
                unit="s",
                description=f"Duration of a GenAI {span_type.lower()} step",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            )
            for span_type, name in STEP_DURATIONS.items()
        }
        self.cost = meter.create_counter(COST, unit="USD", description="Cost of GenAI calls")
        self.legacy_tokens = self.legacy_duration = None
        if legacy_names:
            self.legacy_tokens = meter.create_histogram(
                LEGACY_TOKEN_USAGE,
                unit="{token}",
                description="Input and output tokens used",
                explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
            )
            self.legacy_duration = meter.create_histogram(
                LEGACY_OPERATION_DURATION,
                unit="s",
                description="GenAI operation duration",
                explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
            )


class MetricsRecorder:
    """Records each finished trace's calls as GenAI metrics (a destination's rider).

    ``export`` runs on the first destination's thread and never raises; ``shutdown`` shuts a
    meter provider genai-trace made itself (the app's is the app's to shut).
    """

    name = "GenAI metrics"

    def __init__(
        self, meter: Meter, legacy_names: bool = False, own_provider: Any | None = None
    ) -> None:
        self._instruments = _Instruments(meter, legacy_names)
        self._own_provider = own_provider

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        """Record the calls and steps of each trace."""
        for trace in traces:
            if isinstance(trace, DeferredTrace):
                raw = trace.raw_attributes()
                if raw is not None and not any(map(_may_be_measured, raw)):
                    continue  # nothing to measure: the trace is not finalized for it
                views = trace.span_views()
            else:
                views = None
            record_spans(self._instruments, views if views is not None else trace.spans)
        return ExportResult.SUCCESS

    def force_flush(self, timeout_ms: int = 10_000) -> bool:
        """Send what a provider of genai-trace's own holds (the app's flushes itself)."""
        provider = self._own_provider
        return True if provider is None else bool(provider.force_flush(timeout_ms))

    def shutdown(self) -> None:
        """Shut down the meter provider genai-trace made, if it made one."""
        if self._own_provider is not None:
            self._own_provider.shutdown()


def _may_be_measured(attributes: Mapping[str, Any]) -> bool:
    """Whether a span, by its attributes as recorded, may be a call, a step or a cost.

    The span type as the trace will have it (:func:`~genai_trace._semantics.facts.span_type_of`
    reads these same attributes), its token usage, its cost: what :func:`record_spans`
    looks at first, before a trace of plain spans is finalized for nothing.
    """
    # Over the span's own keys: a missing key costs an SDK span's attributes an exception.
    if not _USAGE_OR_COST_KEYS.isdisjoint(attributes.keys()):
        return True
    return span_type_of(attributes) in _MEASURED_TYPES


# What token_usage_of reads first, and a cost: a span without any of them has neither.
_USAGE_OR_COST_KEYS = frozenset(
    {
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
        sc.LLM_TOKEN_COUNT_PROMPT,
        sc.LLM_TOKEN_COUNT_COMPLETION,
        sc.LLM_TOKEN_COUNT_TOTAL,
        sc.COST_USD,
    }
)


def record_spans(instruments: _Instruments, spans: Sequence[Any]) -> None:
    """Record one trace's calls (each once), their cost, and its steps' durations."""
    if not any(
        s.span_type in _MEASURED_TYPES or s.token_usage is not None or sc.COST_USD in s.attributes
        for s in spans
    ):
        return  # most traces of a plain pipeline: nothing to measure, nothing walked
    billed = billed_spans(spans)
    with_usage = {s.span_id for s in billed if s.token_usage is not None}
    for span in billed:
        attributes = _call_attributes(span)
        cost = span.cost_usd
        if cost is not None and cost > 0:
            instruments.cost.add(cost, attributes)
        if span.token_usage is not None:
            _record_usage(instruments, span, attributes)
    for span in _inference_spans(spans, with_usage):
        _record_duration(instruments, span, _call_attributes(span))
    for span in spans:
        histogram = instruments.steps.get(span.span_type)
        seconds = _seconds(span)
        if histogram is not None and seconds is not None and not _self_measured(span):
            attributes = {sc.SPAN_TYPE: span.span_type}
            _add_error(attributes, span)
            histogram.record(seconds, attributes)


def _record_usage(instruments: _Instruments, span: Any, attributes: Mapping[str, Any]) -> None:
    usage = span.token_usage
    for field, counter in instruments.usage.items():
        count = getattr(usage, field)
        if count:
            counter.add(count, attributes)
    legacy = instruments.legacy_tokens
    if legacy is not None and not _self_measured(span):
        legacy.record(usage.input_tokens, {**attributes, "gen_ai.token.type": "input"})
        legacy.record(usage.output_tokens, {**attributes, "gen_ai.token.type": "output"})


def _record_duration(instruments: _Instruments, span: Any, attributes: dict[str, Any]) -> None:
    seconds = _seconds(span)
    if seconds is None:
        return
    _add_error(attributes, span)
    if span.span_type in sc.LLM_SPAN_TYPES:
        instruments.inference_duration.record(seconds, attributes)
    legacy = instruments.legacy_duration
    if legacy is not None and not _self_measured(span):
        legacy.record(seconds, attributes)


def _inference_spans(spans: Sequence[Any], with_usage: set[str]) -> Iterable[Any]:
    """The calls whose duration counts: billed ones, and failed LLM calls without usage.

    An LLM span without usage counts unless an LLM span below it, or a span with usage
    below it, describes the call.
    """
    parent_of = {s.span_id: s.parent_id for s in spans}
    above_calls: set[str] = set()
    for span in spans:
        if span.span_type in sc.LLM_SPAN_TYPES or span.span_id in with_usage:
            parent = parent_of.get(span.span_id)
            while parent is not None and parent not in above_calls:
                above_calls.add(parent)
                parent = parent_of.get(parent)
    for span in spans:
        if span.span_id in with_usage or (
            span.span_type in sc.LLM_SPAN_TYPES
            and span.token_usage is None
            and span.span_id not in above_calls
        ):
            yield span


def _call_attributes(span: Any) -> dict[str, Any]:
    """The few, bounded attributes of a call's measurements."""
    source = span.attributes
    operation = source.get(sc.GEN_AI_OPERATION_NAME)
    if not isinstance(operation, str):
        operation = _OPERATION_OF_TYPE.get(span.span_type, "chat")
    attributes: dict[str, Any] = {sc.GEN_AI_OPERATION_NAME: operation, sc.SPAN_TYPE: span.span_type}
    provider = source.get(sc.GEN_AI_PROVIDER_NAME) or source.get(sc.GEN_AI_SYSTEM)
    if isinstance(provider, str):
        attributes[sc.GEN_AI_PROVIDER_NAME] = provider
    model = source.get(sc.GEN_AI_REQUEST_MODEL) or span.model
    if isinstance(model, str):
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
    return attributes


def _add_error(attributes: dict[str, Any], span: Any) -> None:
    if span.status == "ERROR":
        attributes["error.type"] = _error_type(span)


def _error_type(span: Any) -> str:
    """The exception's class name when one was recorded, else ``_OTHER``."""
    events = getattr(span, "events", None)
    if events is None:  # a view: the SDK span's events
        events = getattr(getattr(span, "span", None), "events", ()) or ()
    for event in events:
        if event.name == "exception":
            kind = (event.attributes or {}).get("exception.type")
            if isinstance(kind, str) and kind:
                return kind
    return "_OTHER"


def _seconds(span: Any) -> float | None:
    end = span.end_time_ns
    return None if end is None else max(end - span.start_time_ns, 0) / 1e9


def _self_measured(span: Any) -> bool:
    scope = span.instrumentation_scope
    return isinstance(scope, str) and scope.startswith(_SELF_MEASURED_SCOPES)


def metrics_recorder(
    meter_provider: MeterProvider | None,
    legacy_names: bool,
    otlp_endpoint: str | None,
    otlp_headers: Mapping[str, str] | None,
    resource: Any = None,
) -> MetricsRecorder | None:
    """The recorder on the provider in force, or ``None`` when metrics have nowhere to go.

    ``meter_provider`` (configured) wins; else the app's global one, when it set one; else,
    with an OTLP endpoint for traces, a provider of genai-trace's own that sends metrics
    there over HTTP. Without any of these, no metrics are recorded (no cost at all).
    """
    own = None
    provider = meter_provider
    if provider is None:
        provider = metrics_api.get_meter_provider()
        if not _is_sdk_provider(provider):
            if otlp_endpoint is None:
                return None
            own = provider = _own_provider(otlp_endpoint, otlp_headers, resource)
            if provider is None:
                return None
    meter = provider.get_meter(sc.TRACER_NAME, sc.TRACER_VERSION)
    return MetricsRecorder(meter, legacy_names, own)


def _is_sdk_provider(provider: object) -> bool:
    try:
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return False
    return isinstance(provider, SdkMeterProvider)


def _own_provider(endpoint: str, headers: Mapping[str, str] | None, resource: Any) -> Any | None:
    """An SDK meter provider sending to ``endpoint`` every ``OTEL_METRIC_EXPORT_INTERVAL``.

    A backend that takes traces but no metrics (Phoenix answers 404) would log an error
    each minute: when the first export fails, the provider stops sending and says so once.
    """
    try:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from opentelemetry.sdk.metrics.export import (
            MetricExportResult,
            PeriodicExportingMetricReader,
        )
    except ImportError:
        logger.warning(
            "genai_trace: GenAI metrics need opentelemetry-exporter-otlp-proto-http to reach "
            "%s; pip install opentelemetry-exporter-otlp-proto-http (traces are not affected)",
            endpoint,
        )
        return None

    class StopWhenRefused(OTLPMetricExporter):
        delivered = refused = False

        def export(
            self, metrics_data: Any, timeout_millis: float | None = 10_000, **kwargs: Any
        ) -> Any:
            if self.refused:
                return MetricExportResult.SUCCESS  # nothing sent, nothing to report
            result = super().export(metrics_data, timeout_millis, **kwargs)
            if result is MetricExportResult.SUCCESS:
                self.delivered = True
            elif not self.delivered:
                self.refused = True
                logger.warning(
                    "genai_trace: %s did not take GenAI metrics; genai-trace stops sending "
                    "them there (traces are not affected). To keep them, give the app a "
                    "MeterProvider or configure(meter_provider=...); to not try, "
                    "GENAI_TRACE_METRICS=false",
                    endpoint,
                )
            return result

    interval_ms = float(os.environ.get("OTEL_METRIC_EXPORT_INTERVAL", "60000"))
    exporter = StopWhenRefused(endpoint=endpoint, headers=dict(headers or {}))
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_ms)
    if resource is None:
        return SdkMeterProvider(metric_readers=[reader])
    return SdkMeterProvider(metric_readers=[reader], resource=resource)


def metrics_endpoint(otlp_endpoint: str | None, protocol: str | None) -> str | None:
    """Where genai-trace's own meter provider sends: the OTLP/HTTP metrics URL, if any.

    ``otlp_endpoint`` (genai-trace's setting) or ``OTEL_EXPORTER_OTLP_ENDPOINT`` with
    ``/v1/metrics`` added, or ``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` as it is. Over gRPC,
    none: give the app a MeterProvider of its own for that.
    """
    protocol = protocol or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf"
    if protocol != "http/protobuf":
        return None
    base = otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if base:
        return base.rstrip("/") + "/v1/metrics"
    return os.environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or None
