"""Traces as OTLP/JSON (an ``ExportTraceServiceRequest``), for files and for ``curl``.

OTLP/JSON differs from protobuf's own JSON mapping in one place that matters: trace and
span ids are hex strings, not base64. Enums are integers and field names lowerCamelCase;
64-bit integers are decimal strings, which OTLP/JSON receivers accept.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, cast

# protobuf ships no type stubs and types-protobuf is not a dependency.
from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource

from genai_trace._semantics.model import Trace
from genai_trace.exporters._otel_spans import to_otel_spans
from genai_trace.exporters.dialects import Dialect, get_dialect

_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def traces_to_otlp_json(
    traces: Sequence[Trace], dialect: str | Dialect = "default", resource: Resource | None = None
) -> dict[str, Any]:
    """One ``ExportTraceServiceRequest`` holding every span of ``traces``, as plain data.

    Ready for ``json.dumps`` and ``POST /v1/traces`` with ``Content-Type: application/json``.

    Args:
        traces: Whole traces; each span keeps its trace's id.
        dialect: As for :class:`~genai_trace.exporters.otlp.OTLPTraceExporter`.
        resource: The resource of every span; by default ``Resource.create({})``, which reads
            ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``.

    Example:
        >>> request = traces_to_otlp_json([trace])
        >>> span = request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
        >>> span["traceId"] == trace.info.trace_id, span["kind"]
        (True, 1)
    """
    mapping = get_dialect(dialect)
    resource = resource if resource is not None else Resource.create({})
    spans = [span for trace in traces for span in to_otel_spans(trace, mapping(trace), resource)]
    request = cast(
        "dict[str, Any]", MessageToDict(encode_spans(spans), use_integers_for_enums=True)
    )
    _hex_ids(request)
    return request


def _hex_ids(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)
