"""autolog("langchain"): the official LangChain instrumentation beside manual spans.

A real LangChain chain (prompt | ``ChatOpenAI`` | parser, and a tool) talks over HTTP to the
OpenAI-compatible server in ``tests/helpers/servers/openai_server.py`` on 127.0.0.1; every
trace is asserted
exactly: parents, span types, model, messages, prompt variables, token counts, time to first
token, errors.

What the instrumentation emits: a top-level chain is an ``invoke_workflow`` span, a chat
model call a ``chat`` span, a tool an ``execute_tool`` span; chains inside a chain get no
span of their own (the parser here has none).

What every provider does alike (a call alone, content capture off, autolog twice, disable)
is in ``test_autolog_providers.py``, once per provider.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain.agents import create_agent
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

import genai_trace
from genai_trace import SpanRecord, SpanType, TokenUsage, Trace
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import (
    CONTENT_ENV,
    assert_within,
    instrumentation_env,
    otel_message,
)
from tests.helpers.servers.openai_server import OpenAIServer, serve
from tests.helpers.trace_shape import only, span_tree

SCOPE = "opentelemetry.instrumentation.genai.langchain"
WORKFLOW = "invoke_workflow RunnableSequence"
# The GenAI operation invoke_workflow: genai-trace's WORKFLOW type (and back, in the
# genai dialect).
WORKFLOW_TYPE = "WORKFLOW"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with instrumentation_env(), serve(first_chunk_delay_s=0.05) as fake:
        yield fake


@pytest.fixture(autouse=True)
def instrumented(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONTENT_ENV, raising=False)
    assert genai_trace.autolog("langchain") == ["langchain"]


def chat_model(server: OpenAIServer, model: str = "m1") -> ChatOpenAI:
    # stream_usage: ask for the usage chunk when streaming, as the OpenAI client does when
    # given stream_options={"include_usage": True}.
    return ChatOpenAI(
        model=model,
        base_url=server.base_url,
        api_key="test-key",  # type: ignore[arg-type]  # a str is taken as the secret
        max_retries=0,
        stream_usage=True,
    )


PROMPT = ChatPromptTemplate.from_messages([("system", "Answer briefly."), ("user", "{question}")])


@pytest.fixture
def chain(server: OpenAIServer) -> Runnable[dict[str, str], str]:
    return PROMPT | chat_model(server) | StrOutputParser()


@tool
def shout(text: str) -> str:
    """Shout the text."""
    return text.upper() + "!"


def prompt_messages(question: str) -> list[dict[str, Any]]:
    return [otel_message("system", "Answer briefly."), otel_message("user", question)]


def span_named(trace: Trace, name: str) -> SpanRecord:
    span = trace.get_span(name)
    assert span is not None, name
    return span


def workflow_input(text: str) -> list[dict[str, Any]]:
    """A workflow's inputs: the chain's input dict, as JSON, in one user message."""
    return [otel_message("user", text)]


def test_a_chain_inside_a_manual_span(chain: Runnable[dict[str, str], str]) -> None:
    @genai_trace.trace
    def ask(question: str) -> str:
        return chain.invoke({"question": question})

    with capture_traces() as traces:
        assert ask("what is otlp") == "You said: what is otlp"
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "ask", "CHAIN"),
        (1, WORKFLOW, WORKFLOW_TYPE),
        (2, "chat m1", "CHAT_MODEL"),
    ]
    workflow, chat = span_named(trace, WORKFLOW), span_named(trace, "chat m1")
    assert_within(trace.root, workflow)
    assert_within(workflow, chat)
    assert workflow.instrumentation_scope == chat.instrumentation_scope == SCOPE
    assert (workflow.status, chat.status) == ("UNSET", "UNSET")

    assert workflow.inputs == workflow_input('{"question": "what is otlp"}')
    assert workflow.outputs is None  # only a chain that returns messages records an output
    assert workflow.token_usage is None
    attributes = dict(workflow.attributes)
    assert attributes.pop("gen_ai.input.messages")
    assert attributes == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "RunnableSequence",
    }

    assert chat.model == "m1"
    assert chat.inputs == prompt_messages("what is otlp")
    assert chat.outputs == [
        otel_message("assistant", "You said: what is otlp", finish_reason="stop")
    ]
    # 2 + 3 words in, 5 words out (the server counts words).
    assert chat.token_usage == TokenUsage(5, 5, 10)
    attributes = dict(chat.attributes)
    assert attributes.pop("gen_ai.input.messages")
    assert attributes.pop("gen_ai.output.messages")
    assert attributes == {
        "gen_ai.operation.name": "chat",
        # LangChain's model metadata names the provider; no server address (see
        # test_with_the_openai_integration_too_each_call_is_still_one_chat_span).
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m1",
        "gen_ai.prompt.variable.question": "what is otlp",
        "gen_ai.response.model": "m1",
        "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.output_tokens": 5,
    }
    info = trace.info
    assert info.state == "OK"
    assert info.token_usage == TokenUsage(5, 5, 10)
    assert (info.request_preview, info.response_preview) == (
        "what is otlp",
        "You said: what is otlp",
    )


def test_a_tool_in_the_chain_is_a_tool_span(server: OpenAIServer) -> None:
    shouting_chain = PROMPT | chat_model(server) | StrOutputParser() | shout

    @genai_trace.trace(span_type=SpanType.AGENT)
    def agent(question: str) -> str:
        return shouting_chain.invoke({"question": question})

    with capture_traces() as traces:
        assert agent("tools") == "YOU SAID: TOOLS!"
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "agent", "AGENT"),
        (1, WORKFLOW, WORKFLOW_TYPE),
        (2, "chat m1", "CHAT_MODEL"),
        (2, "execute_tool shout", "TOOL"),
    ]
    workflow, tool_span = span_named(trace, WORKFLOW), span_named(trace, "execute_tool shout")
    assert_within(workflow, tool_span)
    assert (tool_span.inputs, tool_span.outputs) == ("You said: tools", "YOU SAID: TOOLS!")
    assert tool_span.token_usage is None
    assert dict(tool_span.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "shout",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Shout the text.",
        "gen_ai.tool.call.arguments": "You said: tools",
        "gen_ai.tool.call.result": "YOU SAID: TOOLS!",
    }
    assert trace.info.token_usage == TokenUsage(3, 3, 6)
    assert trace.info.response_preview == "YOU SAID: TOOLS!"


async def test_an_async_chain(chain: Runnable[dict[str, str], str]) -> None:
    @genai_trace.trace
    async def ask(question: str) -> str:
        return await chain.ainvoke({"question": question})

    with capture_traces() as traces:
        assert await ask("async please") == "You said: async please"
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "ask", "CHAIN"),
        (1, WORKFLOW, WORKFLOW_TYPE),
        (2, "chat m1", "CHAT_MODEL"),
    ]
    chat = span_named(trace, "chat m1")
    assert_within(span_named(trace, WORKFLOW), chat)
    assert chat.inputs == prompt_messages("async please")
    assert chat.token_usage == trace.info.token_usage == TokenUsage(4, 4, 8)


def assert_streamed_chat(trace: Trace, question: str) -> None:
    chat = span_named(trace, "chat m1")
    assert_within(span_named(trace, WORKFLOW), chat)
    # A streamed chain starts before its input is known: LangChain reports an empty one.
    assert span_named(trace, WORKFLOW).inputs == workflow_input('{"input": ""}')
    assert chat.inputs == prompt_messages(question)
    assert chat.outputs == [
        otel_message("assistant", f"You said: {question}", finish_reason="stop")
    ]
    words = len(question.split())
    assert chat.token_usage == trace.info.token_usage == TokenUsage(words + 2, words + 2, 10)
    attributes = dict(chat.attributes)
    assert attributes.pop("gen_ai.input.messages")
    assert attributes.pop("gen_ai.output.messages")
    # The server waits 50 ms before the first chunk; genai-trace also gives it in ms under
    # the name its own generators use.
    first_chunk_s = attributes.pop("gen_ai.response.time_to_first_chunk")
    assert 0.05 <= first_chunk_s < (chat.duration_ms or 0) / 1000
    assert attributes.pop("genai_trace.time_to_first_item_ms") == pytest.approx(
        first_chunk_s * 1000
    )
    assert attributes == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m1",
        "gen_ai.request.stream": True,
        "gen_ai.prompt.variable.question": question,
        "gen_ai.response.model": "m1",  # no response id: the chunks' id is not kept
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": words + 2,
        "gen_ai.usage.output_tokens": words + 2,
    }


def test_a_streamed_chain_records_usage_and_time_to_first_token(
    chain: Runnable[dict[str, str], str],
) -> None:
    @genai_trace.trace(span_type=SpanType.LLM, output_reducer="".join)
    def stream_answer(question: str) -> Iterator[str]:
        yield from chain.stream({"question": question})

    with capture_traces() as traces:
        assert "".join(stream_answer("stream it please")) == "You said: stream it please"
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "stream_answer", "LLM"),
        (1, WORKFLOW, WORKFLOW_TYPE),
        (2, "chat m1", "CHAT_MODEL"),
    ]
    assert trace.root.outputs == "You said: stream it please"
    assert_streamed_chat(trace, "stream it please")


async def test_an_async_streamed_chain(chain: Runnable[dict[str, str], str]) -> None:
    @genai_trace.trace
    async def ask(question: str) -> str:
        return "".join([chunk async for chunk in chain.astream({"question": question})])

    with capture_traces() as traces:
        assert await ask("async stream now") == "You said: async stream now"
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "ask", "CHAIN"),
        (1, WORKFLOW, WORKFLOW_TYPE),
        (2, "chat m1", "CHAT_MODEL"),
    ]
    assert_streamed_chat(trace, "async stream now")


@pytest.mark.parametrize(
    ("status", "error"), [(400, openai.BadRequestError), (500, openai.InternalServerError)]
)
def test_an_error_response_marks_the_chat_the_workflow_and_the_trace(
    server: OpenAIServer, status: int, error: type[Exception]
) -> None:
    failing_chain = PROMPT | chat_model(server, f"error-{status}") | StrOutputParser()

    @genai_trace.trace
    def ask(question: str) -> str:
        return failing_chain.invoke({"question": question})

    with capture_traces() as traces, pytest.raises(error) as caught:
        ask("fail please")
    trace = only(traces)
    assert trace.info.state == "ERROR"
    chat_name = f"chat error-{status}"
    assert span_tree(trace) == [
        (0, "ask", "CHAIN"),
        (1, WORKFLOW, WORKFLOW_TYPE),
        (2, chat_name, "CHAT_MODEL"),
    ]
    # langchain-openai raises its own subclass of the openai error.
    error_type = f"{type(caught.value).__module__}.{type(caught.value).__qualname__}"
    assert error_type.startswith("langchain_openai.")
    message = f"Error code: {status} - the fake server fails with {status}"
    for span in (span_named(trace, chat_name), span_named(trace, WORKFLOW), trace.root):
        assert (span.status, span.token_usage) == ("ERROR", None), span.name
    for span in (span_named(trace, chat_name), span_named(trace, WORKFLOW)):
        assert span.status_message == message
        assert span.attributes["error.type"] == error_type
    chat = span_named(trace, chat_name)
    assert chat.inputs == prompt_messages("fail please")
    assert chat.outputs is None
    assert trace.info.token_usage is None
    assert [e.name for e in trace.root.events] == ["exception"]


def test_with_the_openai_integration_too_each_call_is_still_one_chat_span(
    chain: Runnable[dict[str, str], str], server: OpenAIServer
) -> None:
    # ChatOpenAI calls the openai client, which the openai instrumentation traces too: the
    # inner chat span is suppressed and adds what it knows to LangChain's.
    assert genai_trace.autolog("openai", "langchain") == ["openai", "langchain"]
    try:
        with capture_traces() as traces:
            chain.invoke({"question": "both on"})
    finally:
        assert genai_trace.autolog("openai", disable=True) == ["openai"]
    trace = only(traces)
    assert span_tree(trace) == [(0, WORKFLOW, WORKFLOW_TYPE), (1, "chat m1", "CHAT_MODEL")]
    chat = span_named(trace, "chat m1")
    assert chat.instrumentation_scope == SCOPE
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    assert (chat.attributes["server.address"], chat.attributes["server.port"]) == (
        "127.0.0.1",
        port,
    )
    assert chat.inputs == prompt_messages("both on")
    assert chat.token_usage == trace.info.token_usage == TokenUsage(4, 4, 8)  # counted once


def test_an_agent_that_calls_a_tool_is_one_trace(server: OpenAIServer) -> None:
    # A LangChain agent (create_agent: a LangGraph loop) against the server's tool calls:
    # the model asks for shout, the agent runs it, the model answers with its result.
    agent_graph = create_agent(chat_model(server), tools=[shout])

    @genai_trace.trace
    def run(question: str) -> str:
        result = agent_graph.invoke({"messages": [{"role": "user", "content": question}]})
        return str(result["messages"][-1].content)

    with capture_traces() as traces:
        assert run("hello there") == "The tool said: HELLO THERE!"
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "run", "CHAIN"),
        (1, "invoke_agent", "AGENT"),
        (2, "chat m1", "CHAT_MODEL"),
        (2, "execute_tool shout", "TOOL"),
        (2, "chat m1", "CHAT_MODEL"),
    ]
    agent = span_named(trace, "invoke_agent")
    asks, answers = [s for s in trace.spans if s.name == "chat m1"]
    tool_span = span_named(trace, "execute_tool shout")
    for child in (asks, tool_span, answers):
        assert_within(agent, child)
    assert asks.end_time_ns <= tool_span.start_time_ns  # type: ignore[operator]
    assert tool_span.end_time_ns <= answers.start_time_ns  # type: ignore[operator]
    assert agent.instrumentation_scope == tool_span.instrumentation_scope == SCOPE

    assert asks.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert asks.outputs == [{
        "role": "assistant", "finish_reason": "tool_calls", "name": None,
        "parts": [{"type": "tool_call", "id": "call-1", "name": "shout",
                   "arguments": {"text": "hello there"}}],
    }]  # fmt: skip
    assert dict(tool_span.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "shout",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "call-1",
        "gen_ai.tool.description": "Shout the text.",
        "gen_ai.tool.call.arguments": '{"text":"hello there"}',
        "gen_ai.tool.call.result": "HELLO THERE!",
    }
    assert answers.outputs == [
        otel_message("assistant", "The tool said: HELLO THERE!", finish_reason="stop")
    ]
    # The call: 2 words in, 3 words of arguments out; the answer: 2 + 2 in, 5 out.
    assert asks.token_usage == TokenUsage(2, 3, 5)
    assert answers.token_usage == TokenUsage(4, 5, 9)
    assert agent.token_usage is None
    assert trace.info.token_usage == TokenUsage(6, 8, 14)
    assert trace.info.response_preview == "The tool said: HELLO THERE!"
