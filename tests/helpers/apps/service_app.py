"""A small HTTP service for the two-process propagation tests.

Run as ``python service_app.py TRACES.jsonl``: it listens on 127.0.0.1 on a free port,
prints the port on the first line of stdout, and answers ``POST /answer`` inside
``genai_trace.extract(self.headers)``, and ``POST /answer-dict`` inside
``genai_trace.extract(dict(self.headers))`` (a plain dict keeps the case the client sent).
Each trace it completes is written to TRACES.jsonl as one JSON line (by the small exporter
below) before the response is sent, so the caller can read its part as soon as the call
returns. The response names the trace headers as the service received them.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import genai_trace
from genai_trace import ExportResult, SpanType, Trace

TRACE_HEADERS = ("traceparent", "tracestate", "baggage")


class JsonLinesExporter:
    """Appends each trace to a file as one JSON line."""

    def __init__(self, path: str) -> None:
        self._path = path
        # Guards the file: destinations export on their own thread, one batch at a time,
        # but a second exporter instance could share the path.
        self._lock = threading.Lock()

    def export(self, traces: Sequence[Trace]) -> ExportResult:
        with self._lock, open(self._path, "a", encoding="utf-8") as out:
            for trace in traces:
                out.write(trace.to_json() + "\n")
        return ExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


class AnswerHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        carrier = dict(self.headers) if self.path == "/answer-dict" else self.headers
        with (
            genai_trace.extract(carrier),
            genai_trace.start_span("service.answer", inputs=body) as span,
        ):
            with genai_trace.start_span(
                "service.llm", span_type=SpanType.LLM, inputs=body["question"]
            ) as llm:
                answer = body["question"].upper()
                llm.set_outputs(answer)
            span.set_outputs({"answer": answer})
            trace_id = span.trace_id
        genai_trace.flush(10)
        received = sorted(name for name in self.headers if name.lower() in TRACE_HEADERS)
        payload = json.dumps({"answer": answer, "trace_id": trace_id, "headers": received}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep stderr for real problems


def main() -> None:
    genai_trace.configure(exporters=[JsonLinesExporter(sys.argv[1])], service_name="answer-svc")
    server = ThreadingHTTPServer(("127.0.0.1", 0), AnswerHandler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
