"""MLflow's dialect: the span keys the MLflow tracking server reads, and its trace info.

What MLflow 3.x does with an OTLP span (``mlflow/server/otel_api.py``,
``Span.from_otel_proto``, ``SqlAlchemyStore.log_spans``, ``mlflow/tracing/otel/translation``):

- every attribute value is JSON-encoded once more on the way in, and one layer of JSON is
  stripped again from strings that hold a JSON string, object or array. So ``mlflow.*``
  values go out as MLflow writes them itself: JSON text (numbers and booleans native);
- ``mlflow.spanType``, ``mlflow.spanInputs``, ``mlflow.spanOutputs`` and
  ``mlflow.chat.tokenUsage`` are the span's type, inputs, outputs and token usage;
- ``mlflow.traceTag.<key>`` (a plain string) on the root span becomes the trace tag ``key``;
- ``session.id`` and ``user.id`` on any span become the trace metadata
  ``mlflow.trace.session`` and ``mlflow.trace.user``;
- resource attributes (except ``telemetry.sdk.*``) become trace tags;
- the request and response previews are computed from the root's inputs and outputs, and
  nothing in a span sets custom metadata or the client request id. Those travel in the
  trace info that :func:`start_trace_request` builds, which MLflow's own client sends to
  ``POST /api/3.0/mlflow/traces`` (StartTraceV3) after the spans, as the OTLP exporter
  does for this dialect.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import safe_repr, truncate_text
from genai_trace._semantics.model import TokenUsage, Trace, usage_details
from genai_trace.exporters.dialects import default

SPAN_TYPE = "mlflow.spanType"
SPAN_INPUTS = "mlflow.spanInputs"
SPAN_OUTPUTS = "mlflow.spanOutputs"
TRACE_REQUEST_ID = "mlflow.traceRequestId"
CHAT_USAGE = "mlflow.chat.tokenUsage"
TRACE_TAG_PREFIX = "mlflow.traceTag."

TRACE_NAME_TAG = "mlflow.traceName"
TRACE_SESSION = "mlflow.trace.session"
TRACE_USER = "mlflow.trace.user"
TRACE_TOKEN_USAGE = "mlflow.trace.tokenUsage"

EXPERIMENT_ID_HEADER = "x-mlflow-experiment-id"
START_TRACE_PATH = "/api/3.0/mlflow/traces"

MAX_METADATA_VALUE_CHARS = 250
MAX_TAG_KEY_CHARS = 250
MAX_TAG_VALUE_CHARS = 4096

# Replaced by the mlflow.* keys above: sending both would double every payload.
_REPLACED = (sc.INPUT_VALUE, sc.INPUT_MIME_TYPE, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE)
_REPLACED_ON_ROOT = (sc.TAG_TAGS,)


def span_attributes(trace: Trace) -> dict[str, dict[str, Any]]:
    """The default attributes, with inputs, outputs, type, usage and tags in MLflow's keys.

    ``input.value``/``output.value`` (and their mime types) become ``mlflow.spanInputs``/
    ``mlflow.spanOutputs``; on the root, tags become ``mlflow.traceTag.<key>``.

    Example:
        >>> attributes = span_attributes(trace)[trace.root.span_id]
        >>> attributes["mlflow.spanType"], attributes["mlflow.traceTag.env"]
        ('"CHAIN"', 'prod')
    """
    out = default.span_attributes(trace)
    request_id = mlflow_value(mlflow_trace_id(trace.info.trace_id))
    for span in trace.spans:
        attributes = out[span.span_id]
        for key in _REPLACED:
            attributes.pop(key, None)
        attributes[TRACE_REQUEST_ID] = request_id
        attributes[SPAN_TYPE] = mlflow_value(span.span_type)
        if span.inputs is not None:
            attributes[SPAN_INPUTS] = mlflow_value(span.inputs)
        if span.outputs is not None:
            attributes[SPAN_OUTPUTS] = mlflow_value(span.outputs)
        if span.token_usage is not None:
            attributes[CHAT_USAGE] = mlflow_value(_usage(span.token_usage))
    root = trace.root
    if root is not None:
        attributes = out[root.span_id]
        for key in [*_REPLACED_ON_ROOT, *(k for k in attributes if k.startswith(sc.TAG_PREFIX))]:
            attributes.pop(key, None)
        for key, value in trace.info.tags.items():
            attributes[TRACE_TAG_PREFIX + key] = str(value)
    return out


def _usage(usage: TokenUsage) -> dict[str, int]:
    """MLflow's token usage keys (``TokenUsageKey``); the cache kinds only when counted.

    MLflow has no key for reasoning tokens: they are within ``output_tokens``.
    """
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        **usage_details(usage, ("cache_read_input_tokens", "cache_creation_input_tokens", None)),
    }


def start_trace_request(trace: Trace, experiment_id: str) -> dict[str, Any]:
    """The body of MLflow's StartTraceV3 call: the trace info as genai-trace computed it.

    Previews, tags (plus ``mlflow.traceName``), metadata (plus session, user and token
    totals), the client request id, state, start time and duration.

    Example:
        >>> body = start_trace_request(trace, experiment_id="0")
        >>> body["trace"]["trace_info"]["request_preview"]
        'What is OTLP?'
    """
    info = trace.info
    metadata = {key: _text(value) for key, value in info.metadata.items()}
    if info.session_id is not None:
        metadata[TRACE_SESSION] = info.session_id
    if info.user_id is not None:
        metadata[TRACE_USER] = info.user_id
    if info.token_usage is not None:
        metadata[TRACE_TOKEN_USAGE] = json.dumps(_usage(info.token_usage))
    if info.incomplete_reason is not None:
        metadata[default.TRACE_INCOMPLETE_REASON] = info.incomplete_reason
    tags = {TRACE_NAME_TAG: info.name, **{str(k): str(v) for k, v in info.tags.items()}}
    trace_info: dict[str, Any] = {
        "trace_id": mlflow_trace_id(info.trace_id),
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment_id},
        },
        "request_time": _timestamp(info.start_time_ns),
        "state": info.state,
        "trace_metadata": {
            k: truncate_text(v, MAX_METADATA_VALUE_CHARS) for k, v in metadata.items()
        },
        "tags": {
            truncate_text(k, MAX_TAG_KEY_CHARS): truncate_text(v, MAX_TAG_VALUE_CHARS)
            for k, v in tags.items()
        },
    }
    if info.end_time_ns is not None:
        trace_info["execution_duration"] = _duration(info.end_time_ns - info.start_time_ns)
    optional = {
        "request_preview": info.request_preview,
        "response_preview": info.response_preview,
        "client_request_id": info.client_request_id,
    }
    trace_info.update({k: v for k, v in optional.items() if v is not None})
    return {"trace": {"trace_info": trace_info}}


def mlflow_trace_id(trace_id: str) -> str:
    """MLflow's id for an OTel trace id: ``tr-`` and the 32 hex digits.

    Example:
        >>> mlflow_trace_id("0af7651916cd43dd8448eb211c80319c")
        'tr-0af7651916cd43dd8448eb211c80319c'
    """
    return "tr-" + trace_id


def mlflow_value(value: Any) -> Any:
    """A value as MLflow stores span attributes: JSON text, numbers and booleans native.

    MLflow's OTLP intake JSON-encodes each value once and then strips one layer from a
    string that holds a JSON string, object or array, so JSON text arrives as MLflow's own
    encoding. A number sent as JSON text would come back as a string, hence native.

    Example:
        >>> mlflow_value({"q": "hi"}), mlflow_value("hi"), mlflow_value(3)
        ('{"q": "hi"}', '"hi"', 3)
    """
    if isinstance(value, (bool, int, float)):
        return value
    return json.dumps(value, ensure_ascii=False, default=safe_repr)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=safe_repr)


def _timestamp(time_ns: int) -> str:
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def _duration(duration_ns: int) -> str:
    seconds, nanos = divmod(max(0, duration_ns), 1_000_000_000)
    return f"{seconds}.{nanos:09d}s"
