"""Spans of any OpenTelemetry GenAI instrumentation are understood, not only OpenAI's.

The official ``opentelemetry-util-genai`` handler (what the official OpenAI, Anthropic and
LangChain instrumentations use) emits invoke_agent, execute_tool and chat spans here, in
genai-trace's provider, inside a manual span.
"""

from __future__ import annotations

import pytest
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.types import InputMessage, OutputMessage, TextPart

import genai_trace
from genai_trace import TokenUsage
from genai_trace.testing import capture_traces
from tests.helpers.trace_shape import only, span_tree


def test_agent_tool_and_chat_spans_from_the_official_genai_util(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "span_only")
    handler = TelemetryHandler()  # the global provider: genai-trace's

    @genai_trace.trace
    def run(question: str) -> str:
        with handler.invoke_local_agent(agent_name="helper", request_model="m1") as agent:
            agent.input_messages = [InputMessage(role="user", parts=[TextPart(content=question)])]
            with handler.inference(provider="acme", request_model="m1") as chat:
                chat.input_messages = agent.input_messages
                chat.output_messages = [
                    OutputMessage(role="assistant", parts=[], finish_reason="tool_calls")
                ]
                chat.input_tokens, chat.output_tokens = 7, 3
            with handler.tool("get_weather") as tool:
                tool.arguments = {"city": "Paris"}
                tool.tool_result = {"temperature": 21}
            answer = "21 C in Paris"
            agent.output_messages = [
                OutputMessage(
                    role="assistant", parts=[TextPart(content=answer)], finish_reason="stop"
                )
            ]
        return answer

    with capture_traces() as traces:
        run("weather in Paris?")
    trace = only(traces)
    assert span_tree(trace) == [
        (0, "run", "CHAIN"),
        (1, "invoke_agent helper", "AGENT"),
        (2, "chat m1", "CHAT_MODEL"),
        (2, "execute_tool get_weather", "TOOL"),
    ]
    agent_span = trace.get_span("invoke_agent helper")
    tool_span = trace.get_span("execute_tool get_weather")
    chat_span = trace.get_span("chat m1")
    assert agent_span is not None and tool_span is not None and chat_span is not None
    assert agent_span.inputs == [
        {"role": "user", "parts": [{"content": "weather in Paris?", "type": "text"}], "name": None}
    ]
    assert agent_span.outputs == [
        {"role": "assistant", "parts": [{"content": "21 C in Paris", "type": "text"}],
         "finish_reason": "stop", "name": None}
    ]  # fmt: skip
    assert (tool_span.inputs, tool_span.outputs) == ({"city": "Paris"}, {"temperature": 21})
    assert (chat_span.model, chat_span.token_usage) == ("m1", TokenUsage(7, 3, 10))
    assert trace.info.token_usage == TokenUsage(7, 3, 10)
    assert trace.info.response_preview == "21 C in Paris"
