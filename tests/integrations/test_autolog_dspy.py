"""autolog("dspy"): the official DSPy instrumentation, with real DSPy programs.

``dspy.LM`` talks (through litellm, over real HTTP) to the OpenAI-compatible server of
``tests/helpers/servers/openai_server.py`` on 127.0.0.1. That server echoes the last user
message, and DSPy's ChatAdapter reads the output fields from ``[[ ## field ## ]]`` headers,
so each question carries the fields the echo must answer with: what a model would write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

# litellm fetches its model price list from the network at import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
dspy = pytest.importorskip("dspy", reason='dspy is not installed: pip install "genai-trace[dspy]"')

import genai_trace  # noqa: E402
from genai_trace import SpanRecord, TokenUsage, Trace  # noqa: E402
from genai_trace.testing import capture_traces  # noqa: E402
from tests.helpers.genai_support import assert_within, instrumentation_env  # noqa: E402
from tests.helpers.servers.local_http import count_tokens  # noqa: E402
from tests.helpers.servers.openai_server import (  # noqa: E402
    OpenAIServer,
    chat_reply_for,
    input_tokens_of,
    serve,
)

SCOPE = "opentelemetry.instrumentation.genai.dspy"


@pytest.fixture()
def server() -> Iterator[OpenAIServer]:
    with instrumentation_env(), serve() as fake:
        assert genai_trace.autolog("dspy") == ["dspy"]
        lm = dspy.LM("openai/m1", api_base=fake.base_url, api_key="k", cache=False, num_retries=0)
        with dspy.context(lm=lm):
            yield fake


def answered(**fields: str) -> str:
    """Text in which the ChatAdapter finds ``fields``, as a model's answer would hold them."""
    return "".join(f"\n[[ ## {name} ## ]]\n{value}" for name, value in fields.items())


def usage_of(server: OpenAIServer) -> list[TokenUsage]:
    """What the server counted for each chat it answered, in order."""
    usages = []
    for path, body in server.requests:
        assert path == "/v1/chat/completions"
        messages = body["messages"]
        prompt, reply = input_tokens_of(messages), count_tokens(chat_reply_for(messages))
        usages.append(TokenUsage(prompt, reply, prompt + reply))
    return usages


def chat_spans(trace: Trace) -> list[SpanRecord]:
    return [span for span in trace.spans if span.name == "chat m1"]


def test_a_predict_module_is_a_chat_span_under_the_callers_span(server: OpenAIServer) -> None:
    qa = dspy.Predict("question -> answer")

    @genai_trace.trace
    def ask(question: str) -> str:
        return str(qa(question=question).answer)

    with capture_traces() as traces:
        assert ask("What is 6 x 7?" + answered(answer="42", completed="")) == "42"
    (trace,) = traces
    assert [(s.name, s.span_type) for s in trace.spans] == [
        ("ask", "CHAIN"),
        ("chat m1", "CHAT_MODEL"),
    ]
    (chat,) = chat_spans(trace)
    assert_within(trace.root, chat)
    assert chat.instrumentation_scope == SCOPE
    assert chat.attributes["gen_ai.request.model"] == "m1"
    assert chat.attributes["gen_ai.provider.name"] == "openai"
    assert [m["role"] for m in chat.inputs] == ["system", "user"]
    (usage,) = usage_of(server)
    assert chat.token_usage == usage
    assert trace.info.token_usage == usage


def shout(text: str) -> str:
    """Shout the text."""
    return text.upper() + "!"


def test_a_react_agent_is_an_agent_span_holding_its_chats_and_tool(server: OpenAIServer) -> None:
    agent = dspy.ReAct("question -> answer", tools=[shout], max_iters=1)
    question = "Say hello loudly." + answered(
        next_thought="Use the tool.",
        next_tool_name="shout",
        next_tool_args='{"text": "hello"}',
        reasoning="The tool shouted.",
        answer="HELLO!",
        completed="",
    )
    with capture_traces() as traces:
        assert agent(question=question).answer == "HELLO!"
    (trace,) = traces
    assert [(s.name, s.span_type) for s in trace.spans] == [
        ("invoke_agent dspy.ReAct", "AGENT"),
        ("chat m1", "CHAT_MODEL"),
        ("execute_tool shout", "TOOL"),
        ("chat m1", "CHAT_MODEL"),
    ]
    agent_span = trace.root
    step, extract = chat_spans(trace)
    tool = trace.get_span("execute_tool shout")
    assert tool is not None
    for child in (step, tool, extract):
        assert_within(agent_span, child)
    assert step.end_time_ns <= tool.start_time_ns  # type: ignore[operator]
    assert tool.end_time_ns <= extract.start_time_ns  # type: ignore[operator]
    assert tool.inputs == {"text": "hello"}
    assert tool.outputs == "HELLO!"
    assert agent_span.attributes["gen_ai.agent.name"] == "dspy.ReAct"
    assert [chat.token_usage for chat in (step, extract)] == usage_of(server)
    first, second = usage_of(server)
    assert trace.info.token_usage == TokenUsage(
        first.input_tokens + second.input_tokens,
        first.output_tokens + second.output_tokens,
        first.total_tokens + second.total_tokens,
    )
