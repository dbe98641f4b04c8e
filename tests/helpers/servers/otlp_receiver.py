"""A small OTLP/HTTP receiver on 127.0.0.1 that keeps every request it accepts.

It answers ``/v1/traces`` and ``/v1/metrics`` with 200 and an empty protobuf response, as a
collector does, and decodes what it kept: ``spans()`` gives each span of each
``ExportTraceServiceRequest`` (its id and name, in arrival order), ``metrics()`` each data
point of each ``ExportMetricsServiceRequest`` as plain data, so tests can assert exact
values.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest


class OTLPReceiver:
    """Start with ``with OTLPReceiver() as receiver:``; ``endpoint`` is its base URL.

    ``metrics_status``: what ``/v1/metrics`` answers (404: a backend that takes no metrics).
    """

    def __init__(self, metrics_status: int = 200) -> None:
        self.received: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append((self.path, body))
                self.send_response(metrics_status if self.path == "/v1/metrics" else 200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _ in self.received]

    def spans(self) -> list[tuple[str, str]]:
        """Every span received: its id (hex) and name, in the order they arrived."""
        with self._lock:
            bodies = [body for path, body in self.received if path == "/v1/traces"]
        spans: list[tuple[str, str]] = []
        for body in bodies:
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            spans.extend(
                (span.span_id.hex(), span.name)
                for resource_spans in request.resource_spans
                for scope_spans in resource_spans.scope_spans
                for span in scope_spans.spans
            )
        return spans

    def metrics(self) -> list[dict[str, Any]]:
        """Every data point received: name, unit, kind, attributes and value(s)."""
        with self._lock:
            bodies = [body for path, body in self.received if path == "/v1/metrics"]
        points: list[dict[str, Any]] = []
        for body in bodies:
            request = ExportMetricsServiceRequest()
            request.ParseFromString(body)
            for resource_metrics in request.resource_metrics:
                for scope_metrics in resource_metrics.scope_metrics:
                    for metric in scope_metrics.metrics:
                        points.extend(_points(scope_metrics.scope.name, metric))
        return points


def _points(scope: str, metric: Any) -> list[dict[str, Any]]:
    kind = metric.WhichOneof("data")
    out = []
    for point in getattr(metric, kind).data_points:
        attributes = {a.key: _value(a.value) for a in point.attributes}
        entry: dict[str, Any] = {"scope": scope, "name": metric.name, "unit": metric.unit,
                                 "kind": kind, "attributes": attributes}  # fmt: skip
        if kind == "histogram":
            entry["count"] = point.count
            entry["sum"] = point.sum
        else:
            entry["value"] = point.as_double if point.HasField("as_double") else point.as_int
        out.append(entry)
    return out


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value"))
