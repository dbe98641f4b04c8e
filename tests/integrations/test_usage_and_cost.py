"""Usage by token kind and cost, from the real OpenAI and Anthropic clients.

The clients talk over HTTP to the local API servers (``tests/helpers/servers/``), which report
cached and reasoning tokens as the real APIs do when a request asks for them with a
header. Each token kind must be priced at its own rate from the shipped price table, and a
call described by two spans (a manual LLM span around an autolog call, or two
instrumentations) must count once in the trace's usage and cost.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import boto3
import openai
import pytest
from opentelemetry import trace as trace_api

import genai_trace
from genai_trace import SpanType, TokenUsage
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import instrumentation_env
from tests.helpers.servers.anthropic_server import AnthropicServer
from tests.helpers.servers.anthropic_server import serve as serve_anthropic
from tests.helpers.servers.bedrock_server import BedrockServer
from tests.helpers.servers.bedrock_server import serve as serve_bedrock
from tests.helpers.servers.openai_server import OpenAIServer
from tests.helpers.servers.openai_server import serve as serve_openai
from tests.helpers.trace_shape import only

PER_MILLION = 1e-6
QUESTION = [{"role": "user", "content": "one two three four five six seven eight"}]  # 8 tokens


@pytest.fixture(scope="module")
def openai_server() -> Iterator[OpenAIServer]:
    with instrumentation_env(), serve_openai(first_chunk_delay_s=0.0) as fake:
        yield fake


@pytest.fixture(scope="module")
def anthropic_server() -> Iterator[AnthropicServer]:
    with instrumentation_env("ANTHROPIC_OPEN_TELEMETRY"), serve_anthropic() as fake:
        yield fake


@pytest.fixture
def openai_client(openai_server: OpenAIServer) -> openai.OpenAI:
    assert genai_trace.autolog("openai") == ["openai"]
    return openai.OpenAI(base_url=openai_server.base_url, api_key="k", max_retries=0)


@pytest.fixture
def anthropic_client(anthropic_server: AnthropicServer) -> anthropic.Anthropic:
    assert genai_trace.autolog("anthropic") == ["anthropic"]
    return anthropic.Anthropic(base_url=anthropic_server.base_url, api_key="k", max_retries=0)


def chat(client: openai.OpenAI, model: str = "o4-mini", cached: int = 6, reasoning: int = 4):
    client.chat.completions.create(
        model=model,
        messages=QUESTION,  # type: ignore[arg-type]
        extra_headers={
            "x-fake-cached-tokens": str(cached),
            "x-fake-reasoning-tokens": str(reasoning),
        },
    )


def test_openai_cached_and_reasoning_tokens_are_priced_each_at_their_rate(
    openai_client: openai.OpenAI,
) -> None:
    with capture_traces() as traces:
        chat(openai_client)
    trace = only(traces)
    (span,) = trace.spans
    # 8 input words, 6 of them cached; the reply "You said: ..." is 10 words + 4 reasoning.
    assert span.token_usage == TokenUsage(
        input_tokens=8,
        output_tokens=14,
        total_tokens=22,
        cache_read_input_tokens=6,
        reasoning_tokens=4,
    )
    # o4-mini: $1.10 input, $0.275 cached input, $4.40 output (reasoning is output) per 1M.
    expected = (2 * 1.10 + 6 * 0.275 + 14 * 4.40) * PER_MILLION
    assert span.cost_usd == pytest.approx(expected, rel=1e-12)
    assert trace.info.cost_usd == pytest.approx(expected, rel=1e-12)
    assert trace.info.token_usage == span.token_usage


def test_anthropic_cache_reads_and_writes_are_priced_each_at_their_rate(
    anthropic_client: anthropic.Anthropic,
) -> None:
    with capture_traces() as traces:
        anthropic_client.messages.create(
            model="claude-haiku-4-5-20251001",
            max_tokens=100,
            messages=QUESTION,  # type: ignore[arg-type]
            extra_headers={"x-fake-cache-read-tokens": "5", "x-fake-cache-write-tokens": "2"},
        )
    (span,) = only(traces).spans
    # Anthropic's input_tokens leaves the cache out (1 here); the span counts all 8.
    assert span.token_usage == TokenUsage(
        input_tokens=8,
        output_tokens=10,
        total_tokens=18,
        cache_read_input_tokens=5,
        cache_write_input_tokens=2,
    )
    # claude-haiku-4-5: $1 input, $0.10 cache read, $1.25 cache write, $5 output per 1M.
    expected = (1 * 1.0 + 5 * 0.10 + 2 * 1.25 + 10 * 5.0) * PER_MILLION
    assert span.cost_usd == pytest.approx(expected, rel=1e-12)
    assert only(traces).info.cost_usd == pytest.approx(expected, rel=1e-12)


def test_a_manual_llm_span_around_an_autolog_call_counts_it_once(
    openai_client: openai.OpenAI,
) -> None:
    with capture_traces() as traces, genai_trace.start_span("agent") as root:
        with genai_trace.start_span("llm", span_type=SpanType.LLM) as manual:
            chat(openai_client)
            manual.set_token_usage(8, 14, cache_read_input_tokens=6, reasoning_tokens=4)
            manual.set_attribute("gen_ai.request.model", "o4-mini")
        with genai_trace.start_span("search", span_type=SpanType.TOOL) as tool:
            tool.set_cost(0.005)  # a paid search API: its own cost, no tokens
    trace = only(traces)
    assert trace.info.trace_id == root.trace_id
    one_call = (2 * 1.10 + 6 * 0.275 + 14 * 4.40) * PER_MILLION
    by_name = {s.name: s for s in trace.spans}
    assert by_name["llm"].cost_usd == pytest.approx(one_call)  # each span priced alone
    assert by_name["chat o4-mini"].cost_usd == pytest.approx(one_call)
    assert trace.info.token_usage == TokenUsage(8, 14, 22, 6, 0, 4)  # not 16, 28...
    assert trace.info.cost_usd == pytest.approx(one_call + 0.005)


def test_two_instrumentations_of_one_call_count_it_once(openai_client: openai.OpenAI) -> None:
    other = trace_api.get_tracer("another.instrumentation")
    with capture_traces() as traces, genai_trace.start_span("agent"):
        with other.start_as_current_span("openai.chat") as outer:  # a second library's span
            outer.set_attributes(
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.request.model": "o4-mini",
                    "gen_ai.usage.input_tokens": 8,
                    "gen_ai.usage.output_tokens": 14,
                    "gen_ai.usage.cache_read.input_tokens": 6,
                    "gen_ai.usage.reasoning.output_tokens": 4,
                }
            )
            chat(openai_client)
    trace = only(traces)
    assert len([s for s in trace.spans if s.token_usage is not None]) == 2
    assert trace.info.token_usage == TokenUsage(8, 14, 22, 6, 0, 4)
    assert trace.info.cost_usd == pytest.approx((2 * 1.10 + 6 * 0.275 + 14 * 4.40) * PER_MILLION)


def test_an_unknown_model_has_an_unknown_cost_never_zero(openai_client: openai.OpenAI) -> None:
    with capture_traces() as traces:
        chat(openai_client, model="my-own-finetune")
    trace = only(traces)
    assert trace.spans[0].token_usage is not None
    assert trace.spans[0].cost_usd is None
    assert trace.info.cost_usd is None


def test_configured_prices_price_a_model_the_table_lacks(openai_client: openai.OpenAI) -> None:
    genai_trace.configure(
        exporters=[], prices={"my-own-finetune": {"input": 1.0, "output": 2.0, "cache_read": 0.5}}
    )
    assert genai_trace.autolog("openai") == ["openai"]
    with capture_traces() as traces:
        chat(openai_client, model="my-own-finetune-v2")
    assert only(traces).info.cost_usd == pytest.approx((2 * 1.0 + 6 * 0.5 + 14 * 2.0) * PER_MILLION)


@pytest.fixture(scope="module")
def bedrock_server() -> Iterator[BedrockServer]:
    with instrumentation_env(), serve_bedrock() as fake:
        yield fake


def test_bedrock_cache_reads_and_writes_are_counted_in_the_input_and_priced(
    bedrock_server: BedrockServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert genai_trace.autolog("bedrock") == ["bedrock"]
    client = boto3.client("bedrock-runtime", endpoint_url=bedrock_server.root_url)

    def cache_headers(request: Any, **_: Any) -> None:
        request.headers["x-fake-cache-read-tokens"] = "5"
        request.headers["x-fake-cache-write-tokens"] = "2"

    client.meta.events.register("before-sign.bedrock-runtime.Converse", cache_headers)
    with capture_traces() as traces:
        client.converse(
            modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0",
            messages=[{"role": "user", "content": [{"text": QUESTION[0]["content"]}]}],
        )
    (span,) = only(traces).spans
    # Bedrock's inputTokens leaves the cache out (1 here); the span counts all 8.
    assert span.token_usage == TokenUsage(
        input_tokens=8,
        output_tokens=10,
        total_tokens=18,
        cache_read_input_tokens=5,
        cache_write_input_tokens=2,
    )
    # anthropic.claude-3-5-haiku: $0.80 input, $0.08 read, $1.00 write, $4 output per 1M.
    expected = (1 * 0.80 + 5 * 0.08 + 2 * 1.00 + 10 * 4.0) * PER_MILLION
    assert span.cost_usd == pytest.approx(expected, rel=1e-12)
