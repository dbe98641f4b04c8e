"""The bench's OTLP/HTTP receiver: a process of its own that decodes and counts every span.

``python -m bench._receiver`` binds 127.0.0.1 on a free port and prints ``PORT <n>`` on
stdout. It accepts ``POST`` on any path ending in ``/v1/traces`` (Langfuse posts to
``/api/public/otel/v1/traces``), decodes each body as an ``ExportTraceServiceRequest``
with ``opentelemetry-proto`` (gzip/deflate bodies included), counts spans and traces (a
trace is counted at its root span: a span with no parent), and answers 200 with an empty,
valid ``ExportTraceServiceResponse``. ``GET /stats`` returns the counts as JSON.

It runs in its own interpreter so that decoding is never billed to a row's process CPU; it
does share the machine's cores, as a real local collector would.
"""

from __future__ import annotations

import gzip
import json
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_RESPONSE = ExportTraceServiceResponse().SerializeToString()


class Counts:
    """What the receiver decoded so far; requests arrive on several threads at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.spans = 0
        self.traces = 0
        self.bytes = 0
        self.rejected = 0

    def add(self, request: ExportTraceServiceRequest, size: int) -> None:
        spans = traces = 0
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    spans += 1
                    if not span.parent_span_id:
                        traces += 1
        with self._lock:
            self.requests += 1
            self.spans += spans
            self.traces += traces
            self.bytes += size

    def reject(self) -> None:
        with self._lock:
            self.rejected += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {
                "requests": self.requests,
                "spans": self.spans,
                "traces": self.traces,
                "bytes": self.bytes,
                "rejected": self.rejected,
            }


COUNTS = Counts()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: exporters reuse their connection

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if not self.path.rstrip("/").endswith("/v1/traces"):
            self._reply(404, b"")
            return
        try:
            request = ExportTraceServiceRequest.FromString(_decompressed(self.headers, body))
        except Exception:  # a body that does not decode is a failure the rows must see
            COUNTS.reject()
            self._reply(400, b"")
            return
        COUNTS.add(request, len(body))
        self._reply(200, _RESPONSE, "application/x-protobuf")

    def do_GET(self) -> None:
        if self.path != "/stats":
            self._reply(404, b"")
            return
        self._reply(200, json.dumps(COUNTS.snapshot()).encode(), "application/json")

    def _reply(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would cost more than the decoding


def _decompressed(headers: Any, body: bytes) -> bytes:
    encoding = (headers.get("Content-Encoding") or "").lower()
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
