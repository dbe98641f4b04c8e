"""The price table: every shipped entry is well formed, names resolve, each kind is priced."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from genai_trace._semantics.model import TokenUsage
from genai_trace._semantics.pricing import ModelPrice, PriceTable, load_prices, parse_prices

SHIPPED = PriceTable.shipped()


def test_every_shipped_price_has_its_date_source_and_provider() -> None:
    assert SHIPPED.version
    assert len(SHIPPED.models) > 30
    for name, price in SHIPPED.models.items():
        assert price.date and price.source and price.source.startswith("https://"), name
        assert price.provider in ("openai", "anthropic", "gemini", "aws.bedrock"), name


@pytest.mark.parametrize(
    ("model", "known_as"),
    [
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),  # the longer prefix wins
        ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic.claude-3-5-haiku"),
        ("amazon.nova-pro-v1:0", "amazon.nova-pro"),
        ("GPT-4O", "gpt-4o"),
    ],
)
def test_model_names_resolve_as_providers_spell_them(model: str, known_as: str) -> None:
    assert SHIPPED.price_of(model) is SHIPPED.models[known_as]


@pytest.mark.parametrize("model", ["gpt-4", "gpt-4oo", "my-model", "", None, "o"])
def test_an_unknown_model_has_no_price(model: str | None) -> None:
    assert SHIPPED.price_of(model) is None
    assert SHIPPED.cost(model, TokenUsage(10, 10, 20)) is None


def test_each_token_kind_is_priced_at_its_own_rate() -> None:
    price = ModelPrice(input=2.0, output=8.0, cache_read=0.5, cache_write=2.5, reasoning=16.0)
    usage = TokenUsage(
        input_tokens=1_000_000,
        output_tokens=500_000,
        total_tokens=1_500_000,
        cache_read_input_tokens=600_000,
        cache_write_input_tokens=100_000,
        reasoning_tokens=200_000,
    )
    # 300k plain input, 600k read, 100k written, 300k plain output, 200k reasoning.
    assert price.cost(usage) == pytest.approx(0.6 + 0.3 + 0.25 + 2.4 + 3.2)


def test_a_kind_without_its_own_price_costs_input_or_output() -> None:
    price = ModelPrice(input=2.0, output=8.0)
    usage = TokenUsage(1_000_000, 1_000_000, 2_000_000, 500_000, 0, 250_000)
    assert price.cost(usage) == pytest.approx(2.0 + 8.0)


def test_overrides_replace_and_add_models() -> None:
    overrides = {"gpt-4o": {"input": 1, "output": 1}, "mine": {"input": 3, "output": 4}}
    table = SHIPPED.with_overrides(parse_prices(overrides, "test"))
    assert table.price_of("gpt-4o-2024-08-06") == ModelPrice(input=1.0, output=1.0)
    assert table.price_of("mine") == ModelPrice(input=3.0, output=4.0)
    assert SHIPPED.price_of("mine") is None  # the shipped table is untouched


def test_a_price_file_reads_in_the_shipped_shape(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    entry = {"input": 1, "output": 2, "date": "2026-01-01"}
    path.write_text(json.dumps({"models": {"Mine": entry}}))
    assert load_prices(path) == {"mine": ModelPrice(input=1.0, output=2.0, date="2026-01-01")}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1], "expected a mapping of model name to prices"),
        ({"m": 3}, "the prices of 'm' must be a mapping"),
        ({"m": {"output": 1}}, "'m' needs an 'input' price"),
        ({"m": {"input": 1, "output": -1}}, "'m' output must be finite and >= 0"),
        ({"m": {"input": "1", "output": 1}}, "'m' input must be a number"),
        ({"m": {"input": 1, "output": 1, "cached": 1}}, "unknown key(s) cached for 'm'"),
    ],
)
def test_a_malformed_table_says_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape("where: " + message)):
        parse_prices(data, "where")


def test_a_missing_price_file_says_which(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the price file"):
        load_prices(tmp_path / "nope.json")
