"""autolog("llama-index"): the official LlamaIndex instrumentation, with a real agent loop.

A LlamaIndex ``FunctionAgent`` (its workflow, tool dispatch and memory, as users run it)
calls a ``FunctionTool``; its model is the real ``openai`` client talking over HTTP to the
OpenAI-compatible server of ``tests/helpers/servers/openai_server.py`` on 127.0.0.1, which
asks for the tool first and answers after its result.

Why the model is adapted here: llama-index-llms-openai (0.8) requires openai < 3, which our
pins (openai 3.x) exclude; so llama-index-core's function-calling LLM base is given a
generator that sends each chat, with its tools, through the openai client. The LlamaIndex
instrumentation traces the agent and the tool; the chat spans are the openai integration's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import openai
import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

import genai_trace
from genai_trace import SpanRecord, TokenUsage, Trace
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import assert_within, instrumentation_env, otel_message
from tests.helpers.servers.openai_server import OpenAIServer, serve
from tests.helpers.trace_shape import only, span_tree

# llama-index-workflows 2.26 reads every attribute of an agent when it builds one, and
# pydantic warns on its deprecated ones (__fields__, model_computed_fields on an instance):
# the library's warnings, not ours.
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning")

SCOPE = "opentelemetry.instrumentation.genai.llama_index"
OPENAI_SCOPE = "opentelemetry.instrumentation.genai.openai"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with instrumentation_env(), serve() as fake:
        yield fake


def openai_message(message: ChatMessage) -> dict[str, Any]:
    calls = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
    if calls:
        return {"role": "assistant", "content": None, "tool_calls": [
            {"id": c.tool_call_id, "type": "function",
             "function": {"name": c.tool_name, "arguments": json.dumps(c.tool_kwargs)}}
            for c in calls]}  # fmt: skip
    if message.role == MessageRole.TOOL:
        call_id = message.additional_kwargs["tool_call_id"]
        return {"role": "tool", "tool_call_id": call_id, "content": message.content}
    return {"role": message.role.value, "content": message.content}


def server_llm(client: openai.OpenAI, model: str) -> MockFunctionCallingLLM:
    """A LlamaIndex function-calling LLM whose every chat goes through the openai client."""

    def chat(messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        tools = [tool.metadata.to_openai_tool() for tool in kwargs.get("tools") or []]
        reply = (
            client.chat.completions.create(
                model=model, messages=[openai_message(m) for m in messages], tools=tools
            )
            .choices[0]
            .message
        )
        if reply.tool_calls:
            return ChatMessage(role="assistant", blocks=[
                ToolCallBlock(tool_call_id=c.id, tool_name=c.function.name,
                              tool_kwargs=json.loads(c.function.arguments))
                for c in reply.tool_calls if c.type == "function"])  # fmt: skip
        return ChatMessage(role="assistant", content=reply.content)

    return MockFunctionCallingLLM(response_generator=chat, is_chat_model=True)


def shout(text: str) -> str:
    """Shout the text."""
    return text.upper() + "!"


def span_named(trace: Trace, name: str) -> SpanRecord:
    span = trace.get_span(name)
    assert span is not None, name
    return span


async def test_an_agent_that_calls_a_tool_is_one_trace(server: OpenAIServer) -> None:
    assert genai_trace.autolog("openai", "llama-index") == ["openai", "llama-index"]
    client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
    agent = FunctionAgent(
        name="shouter",
        tools=[FunctionTool.from_defaults(fn=shout, description="Shout the text.")],
        llm=server_llm(client, "m1"),
        system_prompt="Use the tool.",
        streaming=False,
    )

    @genai_trace.trace
    async def run(question: str) -> str:
        return str(await agent.run(user_msg=question))

    with capture_traces() as traces:
        assert await run("hello there") == "The tool said: HELLO THERE!"
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "run", "CHAIN"),
        (1, "invoke_agent shouter", "AGENT"),
        (2, "chat m1", "CHAT_MODEL"),
        (2, "execute_tool shout", "TOOL"),
        (2, "chat m1", "CHAT_MODEL"),
    ]
    agent_span = span_named(trace, "invoke_agent shouter")
    tool_span = span_named(trace, "execute_tool shout")
    asks, answers = [s for s in trace.spans if s.name == "chat m1"]
    assert_within(trace.root, agent_span)
    for child in (asks, tool_span, answers):
        assert_within(agent_span, child)
    assert asks.end_time_ns <= tool_span.start_time_ns  # type: ignore[operator]
    assert tool_span.end_time_ns <= answers.start_time_ns  # type: ignore[operator]
    assert agent_span.instrumentation_scope == tool_span.instrumentation_scope == SCOPE
    assert asks.instrumentation_scope == answers.instrumentation_scope == OPENAI_SCOPE

    assert agent_span.inputs == [
        {"role": "system", "parts": [{"content": "Use the tool.", "type": "text"}]},
        otel_message("user", "hello there"),
    ]
    assert agent_span.outputs == [
        otel_message("assistant", "The tool said: HELLO THERE!", finish_reason="stop")
    ]
    assert agent_span.attributes["gen_ai.agent.name"] == "shouter"
    assert dict(tool_span.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "shout",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": "call-1",
        "gen_ai.tool.description": "Shout the text.",
        "gen_ai.agent.name": "shouter",
        "gen_ai.tool.call.arguments": '{"text":"hello there"}',
        "gen_ai.tool.call.result": "HELLO THERE!",
    }
    assert asks.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    # The call: 3 + 2 words in, 3 words of arguments out; the answer: 5 + 2 in, 5 out.
    assert asks.token_usage == TokenUsage(5, 3, 8)
    assert answers.token_usage == TokenUsage(7, 5, 12)
    assert agent_span.token_usage is None
    assert trace.info.token_usage == TokenUsage(12, 8, 20)
    assert trace.info.response_preview == "The tool said: HELLO THERE!"
