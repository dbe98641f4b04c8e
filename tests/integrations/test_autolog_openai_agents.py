"""autolog("openai-agents"): the OpenAI Agents SDK's real agent loop, with a function tool.

The agent's model is the SDK's chat-completions model over a real ``AsyncOpenAI`` client,
talking to the OpenAI-compatible server of ``tests/helpers/servers/openai_server.py`` on
127.0.0.1: the first request offers the tool and gets a tool call, the second carries the
tool's result and gets the answer. The agents instrumentation emits the run, the agent and
the tool; the model calls are the openai integration's chat spans.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from agents import Agent, OpenAIChatCompletionsModel, Runner, function_tool
from agents.tracing import get_trace_provider
from openai import AsyncOpenAI

import genai_trace
from genai_trace import SpanRecord, TokenUsage, Trace
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import assert_within, instrumentation_env, otel_message
from tests.helpers.servers.openai_server import OpenAIServer, serve
from tests.helpers.trace_shape import only, span_tree

SCOPE = "opentelemetry.instrumentation.genai.openai_agents"
OPENAI_SCOPE = "opentelemetry.instrumentation.genai.openai"


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIServer]:
    with instrumentation_env(), serve() as fake:
        yield fake


@function_tool
def shout(text: str) -> str:
    """Shout the text."""
    return text.upper() + "!"


def sdk_processors() -> list[object]:
    """The trace processors the Agents SDK sends its traces to."""
    return list(get_trace_provider()._multi_processor._processors)  # type: ignore[attr-defined]


def span_named(trace: Trace, name: str) -> SpanRecord:
    span = trace.get_span(name)
    assert span is not None, name
    return span


async def test_an_agent_run_with_a_tool_call_is_one_trace(server: OpenAIServer) -> None:
    sdk_exporters = sdk_processors()
    assert genai_trace.autolog("openai", "openai-agents") == ["openai", "openai-agents"]
    try:
        # Only the instrumentation's processor: nothing goes to OpenAI's trace servers.
        assert [type(p).__name__ for p in sdk_processors()] == ["GenAITracingProcessor"]
        client = AsyncOpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        agent = Agent(
            name="shouter",
            instructions="Use the tool.",
            tools=[shout],
            model=OpenAIChatCompletionsModel(model="m1", openai_client=client),
        )

        # Runner.run, not run_sync: run_sync leaves its thread's default event loop open.
        @genai_trace.trace
        async def run(question: str) -> str:
            return str((await Runner.run(agent, question)).final_output)

        with capture_traces() as traces:
            assert await run("hello there") == "The tool said: HELLO THERE!"
    finally:
        genai_trace.autolog(disable=True)
    assert sdk_processors() == sdk_exporters  # the SDK's own exporter is back

    trace = only(traces)
    assert span_tree(trace) == [
        (0, "run", "CHAIN"),
        (1, "invoke_workflow Agent workflow", "WORKFLOW"),
        (2, "invoke_agent shouter", "AGENT"),
        (3, "chat m1", "CHAT_MODEL"),
        (3, "execute_tool shout", "TOOL"),
        (3, "chat m1", "CHAT_MODEL"),
    ]
    workflow = span_named(trace, "invoke_workflow Agent workflow")
    agent_span = span_named(trace, "invoke_agent shouter")
    tool_span = span_named(trace, "execute_tool shout")
    asks, answers = [s for s in trace.spans if s.name == "chat m1"]
    assert_within(trace.root, workflow)
    assert_within(workflow, agent_span)
    for child in (asks, tool_span, answers):
        assert_within(agent_span, child)
    assert asks.end_time_ns <= tool_span.start_time_ns  # type: ignore[operator]
    assert tool_span.end_time_ns <= answers.start_time_ns  # type: ignore[operator]
    assert {workflow.instrumentation_scope, agent_span.instrumentation_scope} == {SCOPE}
    assert tool_span.instrumentation_scope == SCOPE
    assert asks.instrumentation_scope == answers.instrumentation_scope == OPENAI_SCOPE

    assert dict(workflow.attributes) == {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "Agent workflow",
    }
    assert dict(agent_span.attributes) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "shouter",
    }
    assert dict(tool_span.attributes) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "shout",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.arguments": '{"text":"hello there"}',
        "gen_ai.tool.call.result": "HELLO THERE!",
    }
    assert asks.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert asks.outputs == [{
        "role": "assistant", "finish_reason": "tool_call", "name": None,
        "parts": [{"type": "tool_call", "id": "call-1", "name": "shout",
                   "arguments": {"text": "hello there"}}],
    }]  # fmt: skip
    assert answers.outputs == [
        otel_message("assistant", "The tool said: HELLO THERE!", finish_reason="stop")
    ]
    # The call: 3 + 2 words in, 3 words of arguments out; the answer: 5 + 2 in, 5 out.
    assert asks.token_usage == TokenUsage(5, 3, 8)
    assert answers.token_usage == TokenUsage(7, 5, 12)
    assert trace.info.token_usage == TokenUsage(12, 8, 20)
    assert trace.info.response_preview == "The tool said: HELLO THERE!"
    assert [path for path, _ in server.requests] == ["/v1/chat/completions"] * 2
