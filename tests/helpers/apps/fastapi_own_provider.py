"""Run in a subprocess by test_fastapi.py: it needs a fresh global TracerProvider.

An app that already exports with its own provider (the FastAPI example's set-up) adds
genai-trace, serves real requests with uvicorn on 127.0.0.1, then prints as JSON what the
test asserts on: genai-trace's traces, the app exporter's spans, and which provider is used.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))

import httpx
from fastapi_app import create_app, local_llm, run_server, setup_app_tracing
from opentelemetry import trace as trace_api
from opentelemetry.trace import format_span_id

import genai_trace
from genai_trace._runtime import state as _runtime
from genai_trace.exporters import InMemoryTraceExporter


def main() -> None:
    provider, app_exporter = setup_app_tracing()
    traces = InMemoryTraceExporter()
    genai_trace.configure(exporters=[traces])  # no tracer_provider: joins the global one
    assert genai_trace.autolog("openai") == ["openai"]
    with local_llm(), run_server(create_app()) as url, httpx.Client(base_url=url) as http:
        responses = [
            http.post("/ask", json={"question": "Is this traced?"}, timeout=10).json(),
            http.get("/health", timeout=10).json(),
        ]
    genai_trace.flush(10)
    runtime = _runtime.current()
    assert runtime is not None
    print(json.dumps({
        "responses": responses,
        "global_provider_is_the_apps": trace_api.get_tracer_provider() is provider,
        "genai_trace_uses_the_apps_provider": runtime.provider is provider,
        "genai_trace_owns_a_provider": runtime.owns_provider,
        "traces": [
            {
                "info": {"name": t.info.name, "state": t.info.state,
                         "request_preview": t.info.request_preview,
                         "response_preview": t.info.response_preview,
                         "token_usage": [t.info.token_usage.input_tokens,
                                         t.info.token_usage.output_tokens,
                                         t.info.token_usage.total_tokens]
                         if t.info.token_usage else None},
                "spans": [
                    {"span_id": s.span_id, "parent_id": s.parent_id, "name": s.name,
                     "span_type": s.span_type, "depth": depth, "model": s.model,
                     "inputs": s.inputs, "outputs": s.outputs}
                    for s, depth in t.walk()
                ],
            }
            for t in traces.get_finished_traces()
        ],
        "app_spans": [
            {"span_id": format_span_id(s.context.span_id), "name": s.name,
             "trace_id": format(s.context.trace_id, "032x")}
            for s in app_exporter.get_finished_spans()
        ],
    }))  # fmt: skip


if __name__ == "__main__":
    main()
