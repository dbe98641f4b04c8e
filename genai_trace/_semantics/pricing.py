"""What an LLM call cost: the price table shipped as data, its overrides, and the sum.

The table is ``prices.json`` next to this module: per model, the price of each token kind in
US dollars per million tokens, with the date the price was read and the page it was read
from. ``configure(prices=...)`` or a file named by ``GENAI_TRACE_PRICES`` override it model by
model. A model the table does not know has no cost (``None``): never a made-up 0.

Layer: ``_semantics`` (pure values; reads only its own package data). Which table is in
force is live state (``_runtime.live``), handed in by the trace builder.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from genai_trace._semantics.model import TokenUsage

PRICE_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
"""The token kinds a model entry may price, in US dollars per million tokens."""
_INFO_KEYS = ("provider", "date", "source")
_PER_TOKEN = 1e-6  # the table says dollars per million tokens
_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.", "us-gov.")  # Bedrock inference profiles
_VERSION_SEPARATORS = ("-", ":", "@")


@dataclass(frozen=True)
class ModelPrice:
    """The prices of one model, in US dollars per million tokens of each kind.

    A cache kind without a price of its own costs ``input``; reasoning costs ``output``.
    """

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    provider: str | None = None
    date: str | None = None
    """When the price was read from ``source``."""
    source: str | None = None

    def cost(self, usage: TokenUsage) -> float:
        """The cost of ``usage`` in US dollars, each token kind at its own price.

        ``input_tokens`` includes the cached ones and ``output_tokens`` the reasoning ones
        (the conventions' counting), so each detail is taken out of its total once.
        """
        cache_read = usage.cache_read_input_tokens
        cache_write = usage.cache_write_input_tokens
        plain_input = max(usage.input_tokens - cache_read - cache_write, 0)
        reasoning = min(usage.reasoning_tokens, usage.output_tokens)
        dollars_per_million = (
            plain_input * self.input
            + cache_read * _or(self.cache_read, self.input)
            + cache_write * _or(self.cache_write, self.input)
            + (usage.output_tokens - reasoning) * self.output
            + reasoning * _or(self.reasoning, self.output)
        )
        return dollars_per_million * _PER_TOKEN


def _or(price: float | None, default: float) -> float:
    return default if price is None else price


class PriceTable:
    """Model names to their prices, looked up as providers spell model names.

    A name is found as written, else without a Bedrock region prefix (``us.``...), else
    by its longest known prefix that ends where a version starts (``gpt-4o-2024-08-06`` is
    ``gpt-4o``; ``gpt-4o-mini-2024-07-18`` is ``gpt-4o-mini``, the longer prefix; a
    ``provider/`` prefix such as ``openai/`` is dropped first).

    Example:
        >>> PriceTable.shipped().price_of("gpt-4o-2024-08-06").input
        2.5
    """

    def __init__(self, prices: Mapping[str, ModelPrice], version: str | None = None) -> None:
        self._prices = dict(prices)
        self._found: dict[str, ModelPrice | None] = {}  # lookups by the names seen
        self.version = version
        """The shipped table's version (its date), kept by overrides."""

    @classmethod
    def shipped(cls) -> PriceTable:
        """The table shipped with genai-trace (``prices.json``)."""
        text = resources.files("genai_trace._semantics").joinpath("prices.json").read_text()
        data = json.loads(text)
        return cls(parse_prices(data, "the shipped prices.json"), data.get("version"))

    def with_overrides(self, overrides: Mapping[str, ModelPrice]) -> PriceTable:
        """A new table: this one with ``overrides`` replacing or adding models."""
        return PriceTable({**self._prices, **overrides}, self.version)

    @property
    def models(self) -> Mapping[str, ModelPrice]:
        """Every model the table prices, by name."""
        return self._prices

    def price_of(self, model: str | None) -> ModelPrice | None:
        """The prices of ``model``; ``None`` when the table does not know it."""
        if not model:
            return None
        if model in self._found:
            return self._found[model]
        found = self._lookup(model)
        if len(self._found) < 10_000:  # model names are few; a flood of odd ones is not kept
            self._found[model] = found
        return found

    def cost(self, model: str | None, usage: TokenUsage | None) -> float | None:
        """What ``usage`` of ``model`` cost in US dollars; ``None`` if either is unknown."""
        if usage is None:
            return None
        price = self.price_of(model)
        return None if price is None else price.cost(usage)

    def _lookup(self, model: str) -> ModelPrice | None:
        name = model.strip().lower()
        name = name.rpartition("/")[2] if "/" in name else name
        for prefix in _REGION_PREFIXES:
            if name.startswith(prefix) and name.count(".") > 1:
                name = name[len(prefix) :]
                break
        if name in self._prices:
            return self._prices[name]
        best: str | None = None
        for known in self._prices:
            if (
                len(name) > len(known)
                and name.startswith(known)
                and name[len(known)] in _VERSION_SEPARATORS
                and (best is None or len(known) > len(best))
            ):
                best = known
        return None if best is None else self._prices[best]


def parse_prices(data: object, where: str) -> dict[str, ModelPrice]:
    """Model prices from the table's JSON shape: ``{"models": {...}}`` or the models alone.

    Each model maps to ``{"input": ..., "output": ..., "cache_read": ..., ...}`` (US
    dollars per million tokens; ``input`` and ``output`` required), optionally with
    ``provider``, ``date`` and ``source``.

    Raises:
        ValueError: the data is not such a table (the message names ``where`` and the fix).
    """
    models = data.get("models", data) if isinstance(data, Mapping) else None
    if not isinstance(models, Mapping):
        raise ValueError(f"{where}: expected a mapping of model name to prices")
    return {str(name).lower(): _model_price(name, entry, where) for name, entry in models.items()}


def load_prices(path: str | os.PathLike[str]) -> dict[str, ModelPrice]:
    """Model prices from a JSON file of the table's shape (``GENAI_TRACE_PRICES``).

    Raises:
        ValueError: the file cannot be read or is not a price table.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the price file {path}: {exc}") from None
    return parse_prices(data, f"the price file {path}")


def _model_price(name: object, entry: object, where: str) -> ModelPrice:
    if not isinstance(entry, Mapping):
        raise ValueError(f"{where}: the prices of {name!r} must be a mapping, got {entry!r}")
    unknown = sorted(set(entry) - {*PRICE_KINDS, *_INFO_KEYS})
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(unknown)} for {name!r}; "
            f"prices are {', '.join(PRICE_KINDS)} (US dollars per million tokens)"
        )
    values: dict[str, Any] = {}
    for kind in PRICE_KINDS:
        if kind not in entry:
            if kind in ("input", "output"):
                raise ValueError(f"{where}: {name!r} needs an {kind!r} price")
            continue
        price = entry[kind]
        if isinstance(price, bool) or not isinstance(price, (int, float)):
            raise ValueError(f"{where}: {name!r} {kind} must be a number, got {price!r}")
        if not (math.isfinite(price) and price >= 0):
            raise ValueError(f"{where}: {name!r} {kind} must be finite and >= 0, got {price!r}")
        values[kind] = float(price)
    for key in _INFO_KEYS:
        if entry.get(key) is not None:
            values[key] = str(entry[key])
    return ModelPrice(**values)
