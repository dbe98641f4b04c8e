"""set_token_usage's token kinds and set_cost: what lands on the span, and misuse."""

from __future__ import annotations

from typing import Any

import pytest

import genai_trace
from genai_trace import SpanType, TokenUsage
from genai_trace.testing import capture_traces
from tests.api.test_misuse import dropped, logged
from tests.helpers.trace_shape import only


@pytest.fixture(autouse=True)
def fresh_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each warning is logged once per process: forget the ones earlier tests caused."""
    monkeypatch.setattr(genai_trace._errors, "_seen", set())


def test_each_token_kind_lands_on_the_span_under_the_conventions_names() -> None:
    with capture_traces() as traces, genai_trace.start_span("llm", span_type=SpanType.LLM) as span:
        span.set_token_usage(
            100, 40, cache_read_input_tokens=60, cache_write_input_tokens=10, reasoning_tokens=25
        )
    record = only(traces).spans[0]
    attributes = dict(record.attributes)
    assert {k: v for k, v in attributes.items() if "token" in k} == {
        "llm.token_count.prompt": 100,
        "llm.token_count.completion": 40,
        "llm.token_count.total": 140,
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 40,
        "gen_ai.usage.cache_read.input_tokens": 60,
        "gen_ai.usage.cache_creation.input_tokens": 10,
        "gen_ai.usage.reasoning.output_tokens": 25,
    }
    assert record.token_usage == TokenUsage(100, 40, 140, 60, 10, 25)
    assert record.cost_usd is None  # no model: unknown, not 0


@pytest.mark.parametrize(("given", "shown"), [(-1, "int"), ("x", "str"), (1.5, "float")])
def test_a_token_kind_it_cannot_read_is_dropped_with_one_warning(
    given: Any, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    with capture_traces() as traces, genai_trace.start_span("llm") as span:
        span.set_token_usage(10, 5, reasoning_tokens=given)
    assert only(traces).spans[0].token_usage == TokenUsage(10, 5, 15)
    assert logged(caplog) == [
        dropped(
            "GenAISpan.set_token_usage(reasoning_tokens=...)",
            "a count of tokens (an int from 0)",
            shown,
            "the count is dropped",
        )
    ]


def test_set_cost_is_the_spans_own_cost_and_wins_over_the_price_table() -> None:
    with capture_traces() as traces, genai_trace.start_span("llm", span_type=SpanType.LLM) as span:
        span.set_attribute("gen_ai.request.model", "gpt-4o")
        span.set_token_usage(1_000_000, 0)  # $2.50 by the table
        span.set_cost(1.25)  # a negotiated price
    trace = only(traces)
    assert trace.spans[0].cost_usd == 1.25
    assert trace.info.cost_usd == 1.25
    assert trace.to_dict()["info"]["cost_usd"] == 1.25


@pytest.mark.parametrize(
    ("given", "shown"), [(-0.01, "float"), (float("nan"), "float"), ("1", "str"), (True, "bool")]
)
def test_set_cost_drops_what_is_not_dollars_with_one_warning(
    given: Any, shown: str, caplog: pytest.LogCaptureFixture
) -> None:
    with capture_traces() as traces, genai_trace.start_span("tool") as span:
        span.set_cost(given)
    assert only(traces).spans[0].cost_usd is None
    assert logged(caplog) == [
        dropped("GenAISpan.set_cost()", "a finite number of dollars from 0", shown, "dropped")
    ]
