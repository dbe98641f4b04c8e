"""Shipping traces to an OTLP backend (Phoenix, MLflow, a collector, any vendor).

Run: python examples/otlp_export.py

With OTEL_EXPORTER_OTLP_ENDPOINT set (for example http://127.0.0.1:6006 for Phoenix), the
traces go there. Without it, the example starts a tiny OTLP/HTTP receiver on 127.0.0.1 and
prints the spans it received, so you can see what a backend gets: our manual spans and the
OpenAI call traced by genai_trace.autolog(), with GenAI attributes.
Offline by default; set OPENAI_BASE_URL and OPENAI_API_KEY to use a real endpoint.
"""

from __future__ import annotations

import gzip
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _offline import MODEL, client, local_llm
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import genai_trace
from genai_trace import SpanType

RECEIVED: list[ExportTraceServiceRequest] = []


class Receiver(BaseHTTPRequestHandler):
    """A stand-in OTLP/HTTP backend: keeps each export request it receives."""

    def do_POST(self) -> None:
        """Decode one ``POST /v1/traces`` (protobuf, maybe gzipped)."""
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        RECEIVED.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""


@contextmanager
def otlp_endpoint() -> Iterator[str | None]:
    """The backend to ship to: the configured one, else a local receiver for the demo."""
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        yield None  # genai-trace reads the standard OTEL_EXPORTER_OTLP_* variables
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def retrieve(question: str) -> list[str]:
    return ["OTLP carries traces over HTTP/protobuf or gRPC."]


@genai_trace.trace
def answer(question: str) -> str:
    notes = " ".join(retrieve(question))
    reply = client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": notes}, {"role": "user", "content": question}],
    )
    return reply.choices[0].message.content or ""


def main() -> None:
    with otlp_endpoint() as endpoint, local_llm():
        genai_trace.configure(
            service_name="otlp-example",
            otlp_endpoint=endpoint,  # None: OTEL_EXPORTER_OTLP_ENDPOINT
            local_store=False,  # only the backend, for this example
        )
        genai_trace.autolog("openai")
        print(answer("How does OTLP carry traces?"))
        genai_trace.flush(10)
    if endpoint is None:
        print(f"sent to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']}")
        return
    for request in RECEIVED:
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            print(f"received from service {service['service.name']}:")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: a.value for a in span.attributes}
                    # Every span goes out with OpenInference's kind (for an instrumented
                    # LLM call it is derived from its OpenTelemetry GenAI operation).
                    kind = attributes["openinference.span.kind"]
                    tokens = attributes.get("gen_ai.usage.input_tokens")
                    usage = f" input_tokens={tokens.int_value}" if tokens else ""
                    print(f"  {span.name} [{kind.string_value}]{usage}")


if __name__ == "__main__":
    main()
