"""autolog("bedrock"): the official Amazon Bedrock instrumentation (the Converse API).

The real ``boto3`` ``bedrock-runtime`` client, with botocore's ``endpoint_url`` pointed at
the Converse server of ``tests/helpers/servers/bedrock_server.py`` on 127.0.0.1 and dummy
credentials in the environment, signs and sends each call over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

import genai_trace
from genai_trace import TokenUsage
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import (
    assert_within,
    instrumentation_env,
    llm_span,
    otel_message,
)
from tests.helpers.servers.bedrock_server import BedrockServer, serve
from tests.helpers.trace_shape import only, span_tree

SCOPE = "opentelemetry.instrumentation.genai.bedrock"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def server() -> Iterator[BedrockServer]:
    with instrumentation_env(), serve() as fake:
        yield fake


@pytest.fixture
def client(server: BedrockServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert genai_trace.autolog("bedrock") == ["bedrock"]
    return boto3.client("bedrock-runtime", endpoint_url=server.root_url)


def converse(client: Any, question: str, model: str = MODEL) -> str:
    reply = client.converse(
        modelId=model,
        system=[{"text": "Answer briefly."}],
        messages=[{"role": "user", "content": [{"text": question}]}],
    )
    return str(reply["output"]["message"]["content"][0]["text"])


def test_converse_inside_a_manual_span(client: Any, server: BedrockServer) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        return converse(client, question)

    with capture_traces() as traces:
        assert ask("hello there") == "You said: hello there"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, f"chat {MODEL}", "CHAT_MODEL")]
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
    # 2 + 2 words in (the system block counts), 4 words out.
    assert span.token_usage == trace.info.token_usage == TokenUsage(4, 4, 8)
    attributes = dict(span.attributes)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
        assert attributes.pop(key)
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "aws.bedrock",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": server.port,
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 4,
    }
    assert trace.info.response_preview == "You said: hello there"
    # The model id travels in the path, as botocore encodes it.
    assert [path for path, _ in server.requests][-1] == (
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    )


def test_an_error_response_marks_the_span_and_the_trace(client: Any) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        return converse(client, question, model="error-400")

    with capture_traces() as traces, pytest.raises(ClientError, match="ValidationException"):
        ask("fail please")
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat error-400", "CHAT_MODEL")]
    span = llm_span(trace)
    assert (span.status, span.token_usage, span.outputs) == ("ERROR", None, None)
    assert span.attributes["error.type"] == "botocore.errorfactory.ValidationException"
    assert (trace.root.status, trace.info.state) == ("ERROR", "ERROR")
