"""autolog(): the official OpenAI instrumentation beside manual spans, against a real server.

The real ``openai`` client talks over HTTP to the OpenAI-compatible server in
``tests/helpers/servers/openai_server.py`` on 127.0.0.1; every trace is asserted exactly:
parents, span types,
model, messages, token counts, time to first token, error status.

What every provider does alike (a call alone, content capture off, autolog twice, disable)
is in ``test_autolog_providers.py``, once per provider.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from typing import Any

import openai
import pytest

import genai_trace
from genai_trace import SpanRecord, SpanType, TokenUsage
from genai_trace.integrations import Integration, _autolog
from genai_trace.integrations._registry import INTEGRATIONS
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import (
    CONTENT_ENV,
    OPT_IN_ENV,
    assert_child_of_root,
    instrumentation_env,
    llm_span,
    otel_message,
    user,
)
from tests.helpers.servers.openai_server import OpenAIServer, serve
from tests.helpers.trace_shape import only, span_tree


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with instrumentation_env(), serve(first_chunk_delay_s=0.05) as fake:
        yield fake


@pytest.fixture(autouse=True)
def instrumented(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTENT_ENV, raising=False)
    assert genai_trace.autolog("openai") == ["openai"]


@pytest.fixture
def client(server: OpenAIServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)


@pytest.fixture
def async_client(server: OpenAIServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)


SYSTEM = {"role": "system", "content": "Answer briefly."}


def pop_common(attributes: dict[str, Any], server: OpenAIServer, model: str) -> None:
    """Pop the attributes every instrumented OpenAI span carries, checking each."""
    assert attributes.pop("gen_ai.provider.name") == "openai"
    assert attributes.pop("gen_ai.request.model") == model
    assert attributes.pop("server.address") == "127.0.0.1"
    assert attributes.pop("server.port") == int(server.base_url.rsplit(":", 1)[1].split("/")[0])


def test_sync_chat_is_an_llm_child_of_the_manual_span(
    client: openai.OpenAI, server: OpenAIServer
) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        reply = client.chat.completions.create(model="m1", messages=[SYSTEM, user(question)])
        return reply.choices[0].message.content or ""

    with capture_traces() as traces:
        assert ask("what is otlp") == "You said: what is otlp"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat m1", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.status == "UNSET"
    assert span.model == "m1"
    assert span.inputs == [
        otel_message("system", "Answer briefly."),
        otel_message("user", "what is otlp"),
    ]
    assert span.outputs == [
        otel_message("assistant", "You said: what is otlp", finish_reason="stop")
    ]
    # 2 + 3 words in, 5 words out (the server counts words).
    assert span.token_usage == TokenUsage(5, 5, 10)
    attributes = dict(span.attributes)
    pop_common(attributes, server, "m1")
    assert attributes.pop("gen_ai.input.messages")
    assert attributes.pop("gen_ai.output.messages")
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": "m1",
        "gen_ai.response.id": "chatcmpl-1",
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


async def test_async_chat_is_an_llm_child_of_the_manual_span(
    async_client: openai.AsyncOpenAI,
) -> None:
    @genai_trace.trace
    async def ask(question: str) -> str:
        reply = await async_client.chat.completions.create(model="m1", messages=[user(question)])
        return reply.choices[0].message.content or ""

    with capture_traces() as traces:
        assert await ask("async please") == "You said: async please"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat m1", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.inputs == [otel_message("user", "async please")]
    assert span.outputs == [
        otel_message("assistant", "You said: async please", finish_reason="stop")
    ]
    assert span.token_usage == TokenUsage(2, 4, 6)
    assert trace.info.token_usage == TokenUsage(2, 4, 6)


def assert_stream_span(span: SpanRecord, text: str, usage: TokenUsage) -> None:
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.outputs == [otel_message("assistant", text, finish_reason="stop")]
    assert span.token_usage == usage
    # The server waits 50 ms before the first chunk; genai-trace also gives it in ms under
    # the name its own generators use.
    first_chunk_s = span.attributes["gen_ai.response.time_to_first_chunk"]
    assert 0.05 <= first_chunk_s < (span.duration_ms or 0) / 1000
    assert span.attributes["genai_trace.time_to_first_item_ms"] == pytest.approx(
        first_chunk_s * 1000
    )


def test_streaming_chat_records_usage_and_time_to_first_token(client: openai.OpenAI) -> None:
    @genai_trace.trace(span_type=SpanType.CHAIN)
    def ask(question: str) -> str:
        stream = client.chat.completions.create(
            model="m1",
            messages=[user(question)],
            stream=True,
            stream_options={"include_usage": True},
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    with capture_traces() as traces:
        assert ask("stream it") == "You said: stream it"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat m1", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.inputs == [otel_message("user", "stream it")]
    assert_stream_span(span, "You said: stream it", TokenUsage(2, 4, 6))
    assert trace.info.token_usage == TokenUsage(2, 4, 6)


async def test_async_streaming_chat(async_client: openai.AsyncOpenAI) -> None:
    @genai_trace.trace
    async def ask(question: str) -> str:
        stream = await async_client.chat.completions.create(
            model="m1",
            messages=[user(question)],
            stream=True,
            stream_options={"include_usage": True},
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    with capture_traces() as traces:
        assert await ask("async stream") == "You said: async stream"
    trace = only(traces)
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert_stream_span(span, "You said: async stream", TokenUsage(2, 4, 6))


def test_a_generator_span_streams_the_llm_with_an_output_reducer(client: openai.OpenAI) -> None:
    @genai_trace.trace(span_type=SpanType.LLM, output_reducer="".join)
    def stream_answer(question: str) -> Iterator[str]:
        stream = client.chat.completions.create(
            model="m1",
            messages=[user(question)],
            stream=True,
            stream_options={"include_usage": True},
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    with capture_traces() as traces:
        assert "".join(stream_answer("hello there")) == "You said: hello there"
    trace = only(traces)
    assert span_tree(trace) == [(0, "stream_answer", "LLM"), (1, "chat m1", "CHAT_MODEL")]
    assert trace.root.outputs == "You said: hello there"
    # The manual LLM span carries no usage of its own; the trace counts the call once.
    assert trace.info.token_usage == TokenUsage(2, 4, 6)


@pytest.mark.parametrize("how", ["close", "context manager"])
def test_a_stream_abandoned_early_still_ends_its_span(client: openai.OpenAI, how: str) -> None:
    @genai_trace.trace
    def first_word(question: str) -> str:
        stream = client.chat.completions.create(
            model="m1",
            messages=[user(question)],
            stream=True,
            stream_options={"include_usage": True},
        )
        if how == "close":
            word = next(iter(stream)).choices[0].delta.content or ""
            stream.close()
            return word
        with stream:
            for chunk in stream:
                return chunk.choices[0].delta.content or ""
        raise AssertionError("no chunk")

    with capture_traces() as traces:
        assert first_word("please stop early") == "You "
    trace = only(traces)
    assert trace.info.complete
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("error",)
    assert span.outputs == [otel_message("assistant", "You ", finish_reason="error")]
    assert span.token_usage is None  # the usage chunk never came


def test_responses_api(client: openai.OpenAI, server: OpenAIServer) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        return client.responses.create(
            model="m2", instructions="Be kind.", input=question
        ).output_text

    with capture_traces() as traces:
        assert ask("hello responses") == "You said: hello responses"
    trace = only(traces)
    assert span_tree(trace) == [(0, "ask", "CHAIN"), (1, "chat m2", "CHAT_MODEL")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    # The instructions, recorded apart as gen_ai.system_instructions, lead the inputs.
    assert span.inputs == [
        {"role": "system", "parts": [{"content": "Be kind.", "type": "text"}]},
        otel_message("user", "hello responses"),
    ]
    assert span.outputs == [
        otel_message("assistant", "You said: hello responses", finish_reason="stop")
    ]
    assert span.token_usage == TokenUsage(4, 4, 8)
    assert span.model == "m2"
    attributes = dict(span.attributes)
    pop_common(attributes, server, "m2")
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
        assert attributes.pop(key)
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.response.model": "m2",
        "gen_ai.response.id": "resp-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 4,
        "gen_ai.usage.output_tokens": 4,
        "openai.api.type": "responses",
    }


def test_embeddings(client: openai.OpenAI, server: OpenAIServer) -> None:
    @genai_trace.trace
    def embed(texts: list[str]) -> list[list[float]]:
        return [d.embedding for d in client.embeddings.create(model="e1", input=texts).data]

    with capture_traces() as traces:
        assert embed(["a b", "ccc"]) == [[3.0, 2.0, 1.0], [3.0, 1.0, 0.0]]
    trace = only(traces)
    assert span_tree(trace) == [(0, "embed", "CHAIN"), (1, "embeddings e1", "EMBEDDING")]
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.token_usage == TokenUsage(3, 0, 3)
    assert trace.info.token_usage == TokenUsage(3, 0, 3)
    attributes = dict(span.attributes)
    pop_common(attributes, server, "e1")
    assert attributes == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.response.model": "e1",
        "gen_ai.embeddings.dimension.count": 3,
        "gen_ai.usage.input_tokens": 3,
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, openai.BadRequestError), (500, openai.InternalServerError)],
)
def test_an_error_response_marks_the_llm_span_and_the_trace(
    client: openai.OpenAI, status: int, error: type[Exception]
) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        reply = client.chat.completions.create(model=f"error-{status}", messages=[user(question)])
        return reply.choices[0].message.content or ""

    with capture_traces() as traces, pytest.raises(error):
        ask("fail please")
    trace = only(traces)
    assert trace.info.state == "ERROR"
    span = llm_span(trace)
    assert_child_of_root(trace, span)
    assert span.status == "ERROR"
    assert span.status_message == f"Error code: {status} - the fake server fails with {status}"
    assert span.attributes["error.type"] == f"openai.{error.__name__}"
    assert span.inputs == [otel_message("user", "fail please")]
    assert span.outputs is None and span.token_usage is None
    assert trace.root.status == "ERROR"
    assert [e.name for e in trace.root.events] == ["exception"]


def test_calls_on_threads_and_tasks_nest_under_the_span_that_started_them(
    client: openai.OpenAI, async_client: openai.AsyncOpenAI
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def on_thread(question: str) -> None:
        client.chat.completions.create(model="thread", messages=[user(question)])

    async def on_tasks() -> None:
        await asyncio.gather(
            *(
                async_client.chat.completions.create(model="task", messages=[user(q)])
                for q in ("x", "y")
            )
        )

    @genai_trace.trace(span_type=SpanType.AGENT)
    def agent() -> None:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(on_thread, ["a", "b"]))
        asyncio.run(on_tasks())

    with capture_traces() as traces:
        agent()
    trace = only(traces)
    assert sorted(span_tree(trace)) == [
        (0, "agent", "AGENT"),
        (1, "chat task", "CHAT_MODEL"),
        (1, "chat task", "CHAT_MODEL"),
        (1, "chat thread", "CHAT_MODEL"),
        (1, "chat thread", "CHAT_MODEL"),
    ]
    assert trace.info.token_usage == TokenUsage(4, 12, 16)


def test_autolog_with_no_names_turns_on_every_installed_integration(client: openai.OpenAI) -> None:
    # The dev extra installs every client; turning one on again still traces each call once.
    every = [integration.name for integration in INTEGRATIONS]
    assert every[:4] == ["openai", "anthropic", "langchain", "openai-agents"]
    assert genai_trace.autolog() == every
    assert genai_trace.autolog(*every[1:], disable=True) == every[1:]
    assert genai_trace.autolog("openai") == ["openai"]
    with capture_traces() as traces:
        client.chat.completions.create(model="m1", messages=[user("once")])
    assert span_tree(only(traces)) == [(0, "chat m1", "CHAT_MODEL")]


# --- set-up: names, missing packages, environment ----------------------------------------


def test_an_unknown_name_is_a_value_error() -> None:
    known = "known integrations are: openai, anthropic, langchain"
    with pytest.raises(ValueError, match=rf"autolog\(\) does not know 'gemini'; {known}"):
        genai_trace.autolog("gemini")
    with pytest.raises(TypeError, match="capture_content"):
        genai_trace.autolog(capture_content="yes")  # type: ignore[arg-type]


def test_a_missing_package_names_the_pip_command(monkeypatch: pytest.MonkeyPatch) -> None:
    missing = Integration(
        name="anthropic",
        client_module="genai_trace_tests_no_such_client",
        client_package="anthropic",
        instrumentor="genai_trace_tests_no_such_instrumentation:Instrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-anthropic",
    )
    monkeypatch.setattr(_autolog, "integrations", lambda: {"anthropic": missing})
    with pytest.raises(ImportError) as caught:
        genai_trace.autolog("anthropic")
    assert str(caught.value) == (
        "autolog('anthropic') needs anthropic and opentelemetry-instrumentation-genai-anthropic: "
        'pip install "genai-trace[anthropic]"'
    )
    assert genai_trace.autolog() == []  # all installed ones: none here


@pytest.mark.parametrize(
    ("before", "capture_content", "after"),
    [
        (None, None, "span_only"),  # default: capture, as @trace captures inputs
        ("event_only", None, "event_only"),  # a value the user set stays
        ("event_only", True, "span_and_event"),  # an explicit argument wins
        ("span_and_event", True, "span_and_event"),
        ("span_only", False, "no_content"),
    ],
)
def test_content_capture_setting(
    monkeypatch: pytest.MonkeyPatch, before: str | None, capture_content: bool | None, after: str
) -> None:
    if before is None:
        monkeypatch.delenv(CONTENT_ENV, raising=False)
    else:
        monkeypatch.setenv(CONTENT_ENV, before)
    genai_trace.autolog("openai", capture_content=capture_content)
    assert os.environ[CONTENT_ENV] == after


def test_the_gen_ai_conventions_opt_in_joins_the_users_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(OPT_IN_ENV, "http")
    genai_trace.autolog("openai")
    assert os.environ[OPT_IN_ENV] == "http,gen_ai_latest_experimental"
    genai_trace.autolog("openai")
    assert os.environ[OPT_IN_ENV] == "http,gen_ai_latest_experimental"
