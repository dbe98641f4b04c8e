"""autolog("anthropic"): the official Anthropic instrumentation beside manual spans.

The real ``anthropic`` client talks over HTTP to the Anthropic Messages API server in
``tests/helpers/servers/anthropic_server.py`` on 127.0.0.1; every trace is asserted exactly:
parents, span types,
model, messages (the ``system`` prompt first), token counts, time to first token, errors.

The anthropic SDK also traces its own API calls (an ``anthropic.messages.create`` span);
autolog turns those spans off for the clients made after it, unless the user set
``ANTHROPIC_OPEN_TELEMETRY``, so that each call is one chat span.

What every provider does alike (a call alone, content capture off, autolog twice, disable)
is in ``test_autolog_providers.py``, once per provider.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import anthropic
import pytest

import genai_trace
from genai_trace import SpanRecord, SpanType, TokenUsage
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import (
    CONTENT_ENV,
    assert_child_of_root,
    instrumentation_env,
    llm_span,
    otel_message,
    user,
)
from tests.helpers.servers.anthropic_server import AnthropicServer, serve
from tests.helpers.trace_shape import only, span_tree

SDK_TRACES_ENV = "ANTHROPIC_OPEN_TELEMETRY"
MAX_TOKENS = 100


@pytest.fixture(scope="module")
def server() -> Iterator[AnthropicServer]:
    with instrumentation_env(SDK_TRACES_ENV), serve(first_chunk_delay_s=0.05) as fake:
        yield fake


@pytest.fixture(autouse=True)
def instrumented(server: AnthropicServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTENT_ENV, raising=False)
    assert genai_trace.autolog("anthropic") == ["anthropic"]


def new_client(server: AnthropicServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def client(server: AnthropicServer) -> anthropic.Anthropic:
    return new_client(server)


@pytest.fixture
def async_client(server: AnthropicServer) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.base_url, api_key="test-key", max_retries=0)


def pop_common(attributes: dict[str, Any], server: AnthropicServer, model: str) -> None:
    """Pop the attributes every instrumented Anthropic span carries, checking each."""
    assert attributes.pop("gen_ai.operation.name") == "chat"
    assert attributes.pop("gen_ai.provider.name") == "anthropic"
    assert attributes.pop("gen_ai.request.model") == model
    assert attributes.pop("gen_ai.request.max_tokens") == MAX_TOKENS
    assert attributes.pop("server.address") == "127.0.0.1"
    assert attributes.pop("server.port") == server.port


def test_a_message_is_one_llm_child_of_the_manual_span(
    client: anthropic.Anthropic, server: AnthropicServer
) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        reply = client.messages.create(
            model="c1", max_tokens=MAX_TOKENS, system="Answer briefly.", messages=[user(question)]
        )
        block = reply.content[0]
        assert block.type == "text"
        return block.text

    with capture_traces() as traces:
        assert ask("what is otlp") == "You said: what is otlp"
    trace = only(traces)
    # One span for the call: the SDK's own span is off (ANTHROPIC_OPEN_TELEMETRY=false).
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat c1", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.status == "UNSET"
    assert span.model == "c1"
    # Anthropic's system prompt is recorded apart (gen_ai.system_instructions) and leads.
    assert span.inputs == [
        {"role": "system", "parts": [{"content": "Answer briefly.", "type": "text"}]},
        otel_message("user", "what is otlp"),
    ]
    # stop_reason "end_turn" is recorded as the conventions' "stop".
    assert span.outputs == [
        otel_message("assistant", "You said: what is otlp", finish_reason="stop")
    ]
    # 2 + 3 words in, 5 words out (the server counts words).
    assert span.token_usage == TokenUsage(5, 5, 10)
    attributes = dict(span.attributes)
    pop_common(attributes, server, "c1")
    assert attributes.pop("gen_ai.input.messages")
    assert attributes.pop("gen_ai.output.messages")
    assert attributes.pop("gen_ai.system_instructions")
    assert attributes == {
        "gen_ai.response.model": "c1",
        "gen_ai.response.id": "msg_1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 5,
    }
    info = trace.info
    assert info.token_usage == TokenUsage(5, 5, 10)
    assert (info.request_preview, info.response_preview) == (
        "what is otlp",
        "You said: what is otlp",
    )
    assert server.requests[-1] == (
        "/v1/messages",
        {"model": "c1", "max_tokens": MAX_TOKENS, "system": "Answer briefly.",
         "messages": [user("what is otlp")]},
    )  # fmt: skip


async def test_async_message_is_an_llm_child_of_the_manual_span(
    async_client: anthropic.AsyncAnthropic,
) -> None:
    @genai_trace.trace
    async def ask(question: str) -> str:
        reply = await async_client.messages.create(
            model="c1", max_tokens=MAX_TOKENS, messages=[user(question)]
        )
        block = reply.content[0]
        assert block.type == "text"
        return block.text

    with capture_traces() as traces:
        assert await ask("async please") == "You said: async please"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat c1", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.inputs == [otel_message("user", "async please")]
    assert span.outputs == [
        otel_message("assistant", "You said: async please", finish_reason="stop")
    ]
    assert span.token_usage == TokenUsage(2, 4, 6)
    assert trace.info.token_usage == TokenUsage(2, 4, 6)


def assert_stream_span(span: SpanRecord, server: AnthropicServer, text: str) -> None:
    assert span.inputs == [otel_message("user", text.removeprefix("You said: "))]
    assert span.outputs == [otel_message("assistant", text, finish_reason="stop")]
    assert span.token_usage == TokenUsage(2, 4, 6)
    attributes = dict(span.attributes)
    pop_common(attributes, server, "c1")
    assert attributes.pop("gen_ai.input.messages")
    assert attributes.pop("gen_ai.output.messages")
    # The server waits 50 ms before its first event; genai-trace also gives it in ms under
    # the name its own generators use.
    first_chunk_s = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert 0.05 <= first_chunk_s < (span.duration_ms or 0) / 1000
    assert attributes.pop("genai_trace.time_to_first_item_ms") == pytest.approx(
        first_chunk_s * 1000
    )
    assert attributes == {
        "gen_ai.request.stream": True,
        "gen_ai.response.model": "c1",
        "gen_ai.response.id": "msg_1",
        "gen_ai.response.finish_reasons": ("stop",),
        # Input tokens come with message_start, output tokens with message_delta.
        "gen_ai.usage.input_tokens": 2,
        "gen_ai.usage.output_tokens": 4,
    }


def test_a_streamed_message_records_usage_and_time_to_first_token(
    client: anthropic.Anthropic, server: AnthropicServer
) -> None:
    @genai_trace.trace(span_type=SpanType.CHAIN)
    def ask(question: str) -> str:
        stream = client.messages.create(
            model="c1", max_tokens=MAX_TOKENS, messages=[user(question)], stream=True
        )
        return "".join(
            event.delta.text
            for event in stream
            if event.type == "content_block_delta" and event.delta.type == "text_delta"
        )

    with capture_traces() as traces:
        assert ask("stream it") == "You said: stream it"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat c1", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert_stream_span(span, server, "You said: stream it")
    assert trace.info.token_usage == TokenUsage(2, 4, 6)


async def test_an_async_streamed_message(
    async_client: anthropic.AsyncAnthropic, server: AnthropicServer
) -> None:
    @genai_trace.trace
    async def ask(question: str) -> str:
        stream = await async_client.messages.create(
            model="c1", max_tokens=MAX_TOKENS, messages=[user(question)], stream=True
        )
        return "".join(
            [
                event.delta.text
                async for event in stream
                if event.type == "content_block_delta" and event.delta.type == "text_delta"
            ]
        )

    with capture_traces() as traces:
        assert await ask("async stream") == "You said: async stream"
    trace = only(traces)
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert_stream_span(span, server, "You said: async stream")


def test_the_stream_helper_records_the_message_without_first_token_time(
    client: anthropic.Anthropic,
) -> None:
    @genai_trace.trace(span_type=SpanType.LLM, output_reducer="".join)
    def stream_answer(question: str) -> Iterator[str]:
        with client.messages.stream(
            model="c1", max_tokens=MAX_TOKENS, messages=[user(question)]
        ) as stream:
            yield from stream.text_stream

    with capture_traces() as traces:
        assert "".join(stream_answer("hello there")) == "You said: hello there"
    trace = only(traces)
    assert span_tree(trace) == [(0, "stream_answer", "LLM"), (1, "chat c1", "CHAT_MODEL")]
    assert trace.root.outputs == "You said: hello there"
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.outputs == [
        otel_message("assistant", "You said: hello there", finish_reason="stop")
    ]
    assert span.attributes["gen_ai.request.stream"] is True
    # text_stream reads the SDK's accumulated message, not the raw events: the
    # instrumentation sees no chunk arrive, so it records no time to first chunk.
    assert "gen_ai.response.time_to_first_chunk" not in span.attributes
    assert "genai_trace.time_to_first_item_ms" not in span.attributes
    # The manual LLM span carries no usage of its own; the trace counts the call once.
    assert span.token_usage == trace.info.token_usage == TokenUsage(2, 4, 6)


@pytest.mark.parametrize("how", ["close", "context manager"])
def test_a_stream_abandoned_early_still_ends_its_span(
    client: anthropic.Anthropic, how: str
) -> None:
    @genai_trace.trace
    def first_word(question: str) -> str:
        stream = client.messages.create(
            model="c1", max_tokens=MAX_TOKENS, messages=[user(question)], stream=True
        )
        with stream if how == "context manager" else nullcontext():
            for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    if how == "close":
                        stream.close()
                    return event.delta.text
        raise AssertionError("no text")

    with capture_traces() as traces:
        assert first_word("please stop early") == "You "
    trace = only(traces)
    assert trace.info.complete
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    # Stopping is not an error; the message never finished, so it has no finish reason.
    assert span.status == "UNSET"
    assert span.outputs == [otel_message("assistant", "You ", finish_reason=None)]
    assert "gen_ai.response.finish_reasons" not in span.attributes
    # message_start's usage: every input token, one output token so far.
    assert span.token_usage == trace.info.token_usage == TokenUsage(3, 1, 4)


def test_a_tool_use_reply_is_a_tool_call_part(client: anthropic.Anthropic) -> None:
    search = {
        "name": "search",
        "description": "Search the web",
        "input_schema": {"type": "object", "properties": {"query": {"type": "string"}}},
    }

    @genai_trace.trace(span_type=SpanType.AGENT)
    def agent(question: str) -> str:
        reply = client.messages.create(
            model="c1", max_tokens=MAX_TOKENS, tools=[search], messages=[user(question)]
        )
        return reply.stop_reason or ""

    with capture_traces() as traces:
        assert agent("find otlp") == "tool_use"
    trace = only(traces)
    assert span_tree(trace) == [(0, "agent", "AGENT"), (1, "chat c1", "CHAT_MODEL")]
    span = llm_span(trace)
    assert span.outputs == [
        {
            "role": "assistant",
            "parts": [
                {
                    "arguments": {"query": "find otlp"},
                    "name": "search",
                    "id": "toolu_1",
                    "type": "tool_call",
                }
            ],
            "finish_reason": "tool_call",
            "name": None,
        }
    ]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert span.attributes["gen_ai.tool.definitions"] == (
        '[{"name":"search","description":"Search the web","parameters":{"type":"object",'
        '"properties":{"query":{"type":"string"}}},"type":"function"}]'
    )
    assert span.token_usage == TokenUsage(2, 3, 5)


@pytest.mark.parametrize(
    ("status", "error", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_an_error_response_marks_the_llm_span_and_the_trace(
    client: anthropic.Anthropic, status: int, error: type[Exception], error_type: str
) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        client.messages.create(
            model=f"error-{status}", max_tokens=MAX_TOKENS, messages=[user(question)]
        )
        raise AssertionError("the call should have failed")

    with capture_traces() as traces, pytest.raises(error):
        ask("fail please")
    trace = only(traces)
    assert trace.info.state == "ERROR"
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, f"chat error-{status}", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.status == "ERROR"
    body = {"type": "error", "error": {"type": error_type,
            "message": f"the fake server fails with {status}"}}  # fmt: skip
    assert span.status_message == f"Error code: {status} - {body}"
    assert span.attributes["error.type"] == f"anthropic.{error.__name__}"
    assert span.inputs == [otel_message("user", "fail please")]
    assert span.outputs is None and span.token_usage is None
    assert trace.info.token_usage is None
    assert trace.root.status == "ERROR"
    assert [e.name for e in trace.root.events] == ["exception"]


def test_an_error_mid_stream_keeps_what_came_before_it(client: anthropic.Anthropic) -> None:
    @genai_trace.trace
    def ask(question: str) -> list[str]:
        stream = client.messages.create(
            model="stream-error", max_tokens=MAX_TOKENS, messages=[user(question)], stream=True
        )
        return [event.type for event in stream]

    with capture_traces() as traces, pytest.raises(anthropic.APIStatusError):
        ask("two words")
    trace = only(traces)
    assert trace.info.state == "ERROR"
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.status == "ERROR"
    assert span.status_message == (
        "{'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}"
    )
    assert span.attributes["error.type"] == "anthropic.APIStatusError"
    # The first word came before the error event; its message never finished.
    assert span.outputs == [otel_message("assistant", "You ", finish_reason=None)]
    assert "gen_ai.response.finish_reasons" not in span.attributes
    # message_start's usage: every input token, one output token so far.
    assert span.token_usage == trace.info.token_usage == TokenUsage(2, 1, 3)


# --- the anthropic SDK's own spans -------------------------------------------------------


def test_the_sdks_own_spans_stay_off_for_clients_made_after_autolog(
    server: AnthropicServer,
) -> None:
    assert os.environ[SDK_TRACES_ENV] == "false"
    assert new_client(server).open_telemetry["traces"]["enabled"] is False


def test_the_sdks_own_span_nests_under_the_chat_span_when_the_user_wants_it(
    server: AnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SDK_TRACES_ENV, "true")
    assert genai_trace.autolog("anthropic") == ["anthropic"]
    assert os.environ[SDK_TRACES_ENV] == "true"  # a value the user set stays
    client = new_client(server)

    @genai_trace.trace
    def ask(question: str) -> None:
        client.messages.create(model="c1", max_tokens=MAX_TOKENS, messages=[user(question)])

    with capture_traces() as traces:
        ask("both spans")
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "ask", "CHAIN"),
        (1, "chat c1", "CHAT_MODEL"),
        (2, "anthropic.messages.create", "CHAT_MODEL"),
    ]
    chat, sdk = trace.spans[1], trace.spans[2]
    assert sdk.parent_id == chat.span_id
    assert sdk.instrumentation_scope == "com.anthropic.sdk.python"
    assert sdk.inputs is None and sdk.outputs is None  # the SDK records no content by default
    # Both spans carry the usage; the trace counts the call once.
    assert chat.token_usage == sdk.token_usage == TokenUsage(2, 4, 6)
    assert trace.info.token_usage == TokenUsage(2, 4, 6)


def test_disable_turns_the_instrumentation_off_and_gives_the_sdk_its_spans_back(
    server: AnthropicServer,
) -> None:
    assert genai_trace.autolog(disable=True) == ["anthropic"]
    assert genai_trace.autolog(disable=True) == []
    assert SDK_TRACES_ENV not in os.environ  # autolog set it, so autolog takes it back
    client = new_client(server)

    @genai_trace.trace
    def ask() -> None:
        client.messages.create(model="c1", max_tokens=MAX_TOKENS, messages=[user("untraced")])

    with capture_traces() as traces:
        ask()
    assert span_tree(only(traces)) == [
        (0, "ask", "CHAIN"),
        (1, "anthropic.messages.create", "CHAT_MODEL"),
    ]
