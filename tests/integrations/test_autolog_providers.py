"""What every autolog integration does alike, run once per provider.

Each provider is the real client (``openai``, ``anthropic``, a LangChain chain over
``ChatOpenAI``) talking over HTTP to the fake servers of ``tests/helpers/servers`` on
127.0.0.1. What only one provider does (its exact attributes, streaming, its errors, the
anthropic SDK's own spans) stays in that provider's module: ``test_autolog.py`` (openai),
``test_autolog_anthropic.py`` and ``test_autolog_langchain.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any, ClassVar

import anthropic
import openai
import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

import genai_trace
from genai_trace import TokenUsage
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import CONTENT_ENV, instrumentation_env, user
from tests.helpers.servers import anthropic_server, openai_server
from tests.helpers.trace_shape import only, span_tree

SDK_TRACES_ENV = "ANTHROPIC_OPEN_TELEMETRY"
CHAT = "CHAT_MODEL"


class OpenAIProvider:
    """``client.chat.completions.create`` with the official OpenAI instrumentation."""

    name = "openai"
    one_call: ClassVar = [(0, "chat m1", CHAT)]
    alone_previews = ("just this", "You said: just this")
    alone_usage = TokenUsage(4, 4, 8)
    secret_usage = TokenUsage(2, 4, 6)

    def __init__(self, server: openai_server.OpenAIServer) -> None:
        self.client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)

    def ask(self, question: str) -> None:
        self.client.chat.completions.create(model="m1", messages=[user(question)])

    def ask_alone(self) -> None:
        system = {"role": "system", "content": "Answer briefly."}
        self.client.chat.completions.create(model="m1", messages=[system, user("just this")])

    def ask_secret(self) -> None:
        self.ask("secret question")


class AnthropicProvider:
    """``client.messages.create`` with the official Anthropic instrumentation."""

    name = "anthropic"
    one_call: ClassVar = [(0, "chat c1", CHAT)]
    alone_previews = ("just this", "You said: just this")
    alone_usage = TokenUsage(2, 4, 6)
    secret_usage = TokenUsage(2, 3, 5)

    def __init__(self, server: anthropic_server.AnthropicServer) -> None:
        self.client = anthropic.Anthropic(
            base_url=server.base_url, api_key="test-key", max_retries=0
        )

    def ask(self, question: str, **extra: Any) -> None:
        self.client.messages.create(model="c1", max_tokens=100, messages=[user(question)], **extra)

    def ask_alone(self) -> None:
        self.ask("just this")

    def ask_secret(self) -> None:
        self.ask("secret", system="Secret.")


class LangChainProvider:
    """A chain (prompt | ``ChatOpenAI`` | parser) with the official LangChain instrumentation."""

    name = "langchain"
    workflow = "invoke_workflow RunnableSequence"
    one_call: ClassVar = [(0, workflow, "WORKFLOW"), (1, "chat m1", CHAT)]
    # The root is the workflow span: its input is the chain's; it records no output.
    alone_previews = ('{"question": "just this"}', None)
    alone_usage = TokenUsage(4, 4, 8)
    secret_usage = TokenUsage(4, 4, 8)

    def __init__(self, server: openai_server.OpenAIServer) -> None:
        prompt = ChatPromptTemplate.from_messages(
            [("system", "Answer briefly."), ("user", "{question}")]
        )
        model = ChatOpenAI(
            model="m1",
            base_url=server.base_url,
            api_key="test-key",  # type: ignore[arg-type]  # a str is taken as the secret
            max_retries=0,
        )
        self.chain = prompt | model | StrOutputParser()

    def ask(self, question: str) -> None:
        self.chain.invoke({"question": question})

    def ask_alone(self) -> None:
        assert self.chain.invoke({"question": "just this"}) == "You said: just this"

    def ask_secret(self) -> None:
        self.ask("secret question")


Provider = OpenAIProvider | AnthropicProvider | LangChainProvider
ALL = ["openai", "anthropic", "langchain"]


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[openai_server.OpenAIServer]:
    with instrumentation_env(), openai_server.serve(first_chunk_delay_s=0.05) as fake:
        yield fake


@pytest.fixture(scope="module")
def fake_anthropic() -> Iterator[anthropic_server.AnthropicServer]:
    with instrumentation_env(SDK_TRACES_ENV), anthropic_server.serve() as fake:
        yield fake


@pytest.fixture(params=ALL)
def provider(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Provider]:
    """The provider's integration turned on, and its client; turned off again afterwards."""
    monkeypatch.delenv(CONTENT_ENV, raising=False)
    name = request.param
    # The server first: its fixture clears the instrumentations' variables, autolog sets them.
    server = request.getfixturevalue("fake_anthropic" if name == "anthropic" else "fake_openai")
    assert genai_trace.autolog(name) == [name]
    made: Provider
    if name == "anthropic":
        made = AnthropicProvider(server)  # made after autolog: no SDK spans of its own
    elif name == "openai":
        made = OpenAIProvider(server)
    else:
        made = LangChainProvider(server)
    yield made
    genai_trace.autolog(disable=True)


def test_a_call_alone_is_a_whole_trace_with_previews(provider: Provider) -> None:
    with capture_traces() as traces:
        provider.ask_alone()
    trace = only(traces)
    assert span_tree(trace) == provider.one_call
    assert trace.root.parent_id is None
    assert (trace.info.request_preview, trace.info.response_preview) == provider.alone_previews
    assert trace.info.token_usage == provider.alone_usage


def test_capture_content_false_keeps_messages_off_every_span(provider: Provider) -> None:
    assert genai_trace.autolog(provider.name, capture_content=False) == [provider.name]
    assert os.environ[CONTENT_ENV] == "no_content"
    with capture_traces() as traces:
        provider.ask_secret()
    trace = only(traces)
    assert span_tree(trace) == provider.one_call
    content = ("messages", "instructions", ".variable.")
    for span in trace.spans:
        assert span.inputs is None and span.outputs is None, span.name
        assert not [key for key in span.attributes if any(part in key for part in content)]
    # The rest is still there.
    chat = trace.get_span(provider.one_call[-1][1])
    assert chat is not None
    assert chat.token_usage == trace.info.token_usage == provider.secret_usage


def test_autolog_twice_traces_each_call_once(provider: Provider) -> None:
    assert genai_trace.autolog(provider.name) == genai_trace.autolog(provider.name)
    assert genai_trace.autolog(provider.name) == [provider.name]
    with capture_traces() as traces:
        provider.ask("once")
    assert span_tree(only(traces)) == provider.one_call


# anthropic: disabling also gives the SDK its own spans back (test_autolog_anthropic.py).
@pytest.mark.parametrize("provider", ["openai", "langchain"], indirect=True)
def test_disable_turns_the_instrumentation_off(provider: Provider) -> None:
    assert genai_trace.autolog(disable=True) == [provider.name]
    assert genai_trace.autolog(disable=True) == []

    @genai_trace.trace
    def ask() -> None:
        provider.ask("untraced")

    with capture_traces() as traces:
        ask()
    assert span_tree(only(traces)) == [(0, "ask", "CHAIN")]
