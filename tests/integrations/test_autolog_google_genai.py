"""autolog("google-genai"): the official Google Gen AI SDK instrumentation.

The real ``google-genai`` client, its base URL pointed at the Gemini API server of
``tests/helpers/servers/gemini_server.py`` on 127.0.0.1 (``http_options``), so the calls
cross real HTTP and the instrumentation runs as it does against Google's API.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from google import genai
from google.genai import errors, types

import genai_trace
from genai_trace import TokenUsage
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import (
    assert_within,
    instrumentation_env,
    llm_span,
    otel_message,
)
from tests.helpers.servers.gemini_server import GeminiServer, serve
from tests.helpers.trace_shape import only, span_tree

SCOPE = "opentelemetry.instrumentation.google_genai"
MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="module")
def server() -> Iterator[GeminiServer]:
    with instrumentation_env(), serve() as fake:
        yield fake


@pytest.fixture
def client(server: GeminiServer) -> genai.Client:
    assert genai_trace.autolog("google-genai") == ["google-genai"]
    options = types.HttpOptions(base_url=server.root_url, retry_options=None)
    return genai.Client(api_key="test-key", http_options=options)


def test_generate_content_inside_a_manual_span(client: genai.Client) -> None:
    config = types.GenerateContentConfig(system_instruction="Answer briefly.")

    @genai_trace.trace
    def ask(question: str) -> str:
        reply = client.models.generate_content(model=MODEL, contents=question, config=config)
        return str(reply.text)

    with capture_traces() as traces:
        assert ask("hello there") == "You said: hello there"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, f"generate_content {MODEL}", "LLM")]
    span = llm_span(trace)
    assert_within(trace.root, span)
    assert (span.instrumentation_scope, span.status, span.model) == (SCOPE, "UNSET", MODEL)
    assert span.inputs == [
        {"role": "system", "parts": [{"content": "Answer briefly.", "type": "text"}]},
        otel_message("user", "hello there"),
    ]
    assert span.outputs == [
        otel_message("assistant", "You said: hello there", finish_reason="stop")
    ]
    # 2 + 2 words in (the system instruction counts), 4 words out.
    assert span.token_usage == trace.info.token_usage == TokenUsage(4, 4, 8)
    attributes = dict(span.attributes)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
        assert attributes.pop(key)
    assert attributes == {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gemini",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.response.model": MODEL,
        "gen_ai.response.id": "resp-1",
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 4,
    }
    assert trace.info.response_preview == "You said: hello there"


def test_an_error_response_marks_the_span_and_the_trace(client: genai.Client) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        return str(client.models.generate_content(model="error-400", contents=question).text)

    with capture_traces() as traces, pytest.raises(errors.ClientError):
        ask("fail please")
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "generate_content error-400", "LLM")]
    span = llm_span(trace)
    assert (span.status, span.token_usage) == ("ERROR", None)
    assert span.attributes["error.type"] == "400"  # the instrumentation records the status
    assert (trace.root.status, trace.info.state) == ("ERROR", "ERROR")
