"""Every scenario by name: what it runs, which floor it is compared with, which interpreter.

Kept free of heavy imports: the parent process only reads names from here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    """One table row. ``target`` is ``module:function`` plus an optional shape argument."""

    name: str
    title: str
    target: str
    shape: str | None = None
    baseline: str | None = None  # the floor row this one is divided by
    peer: bool = False  # runs under --python, skipped when the package is missing


_CORE = [
    Scenario("floor", "raw OTel SDK, 1 span", "bench._core:floor", "1"),
    Scenario("floor_11", "raw OTel SDK, 11-span trace", "bench._core:floor", "11"),
    Scenario("decorator", "@genai_trace.trace, 1 span", "bench._core:decorator", "1", "floor"),
    Scenario(
        "decorator_11",
        "@genai_trace.trace, 11-span trace",
        "bench._core:decorator",
        "11",
        "floor_11",
    ),
    Scenario(
        "decorator_read",
        "@genai_trace.trace, 1 span, sink reads every record",
        "bench._core:decorator_read",
        "1",
        "floor",
    ),
    Scenario(
        "decorator_11_read",
        "@genai_trace.trace, 11-span trace, sink reads every record",
        "bench._core:decorator_read",
        "11",
        "floor_11",
    ),
    Scenario("start_span", "genai_trace.start_span", "bench._core:start_span", None, "floor"),
    Scenario("client", "TraceClient start_trace/end_trace", "bench._core:client", None, "floor"),
    Scenario("disabled", "disabled @trace vs bare call", "bench._core:disabled"),
    Scenario("no_loss", "flat-out loop, default worker", "bench._core:no_loss"),
    Scenario(
        "no_loss_store", "flat-out loop, default config: local store", "bench._core:no_loss_store"
    ),
    Scenario("memory", "RSS over 10x the flat-out loop", "bench._core:memory"),
    Scenario(
        "memory_stalled", "RSS with the exporter stalled, 5x the loop", "bench._core:memory_stalled"
    ),
]

_PEER_TITLES = {
    "openinference": "openinference tracer.chain",
    "logfire": "logfire.instrument",
    "langfuse": "langfuse @observe",
    "mlflow": "@mlflow.trace",
}

_PEERS = [
    Scenario(
        f"{peer}{suffix}",
        f"{title}, {label}",
        f"bench._runner:peer:{peer}",
        shape,
        baseline,
        peer=True,
    )
    for peer, title in _PEER_TITLES.items()
    for suffix, shape, label, baseline in (
        ("", "1", "1 span", "floor"),
        ("_11", "11", "11-span trace", "floor_11"),
    )
]

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _CORE + _PEERS}
