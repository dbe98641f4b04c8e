"""An app that already uses OpenTelemetry adds genai-trace: one provider, one trace per request.

Run: python examples/fastapi_app.py

The FastAPI app sets up its own TracerProvider and exporter and is instrumented with the
official opentelemetry-instrumentation-fastapi, as before genai-trace. genai-trace then joins
that provider (it creates none), so each request's trace has the HTTP request span at the
root and the @trace and OpenAI spans under it; the app's own exporter still gets every span
once. The example serves on 127.0.0.1 with uvicorn and sends two real requests.
Offline by default; set OPENAI_BASE_URL and OPENAI_API_KEY to use a real endpoint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from _offline import MODEL, async_client, last_trace, local_llm, print_trace
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import BaseModel

import genai_trace


def setup_app_tracing() -> tuple[TracerProvider, InMemorySpanExporter]:
    """The app's own OpenTelemetry set-up (its exporter would be OTLP in production)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "ask-api"}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider, exporter


class Question(BaseModel):
    """The body of ``POST /ask``."""

    question: str


@genai_trace.trace
async def answer(question: str) -> str:
    reply = await async_client().chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}]
    )
    return reply.choices[0].message.content or ""


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/ask")
    async def ask(body: Question) -> dict[str, str]:
        reply = await answer(body.question)
        # The trace's root is the request span: give its Request/Response columns text.
        genai_trace.update_current_trace(request_preview=body.question, response_preview=reply)
        return {"answer": reply}

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    FastAPIInstrumentor.instrument_app(app)
    return app


@contextmanager
def run_server(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (a free port) until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)  # in-flight requests (and their spans) finish first


def main() -> None:
    provider, app_exporter = setup_app_tracing()
    genai_trace.autolog("openai")  # joins the app's provider; LLM calls are traced
    with local_llm(), run_server(create_app()) as url, httpx.Client(base_url=url) as http:
        print(http.post("/ask", json={"question": "Is this traced?"}, timeout=10).json())
        print(http.get("/health", timeout=10).json())
    print_trace(last_trace())
    app_spans = app_exporter.get_finished_spans()
    ids = {span.context.span_id for span in app_spans}
    print(f"the app's own exporter got {len(app_spans)} spans, {len(ids)} distinct")
    print(f"one provider: {trace.get_tracer_provider() is provider}")


if __name__ == "__main__":
    main()
