"""The measuring loop shared by every scenario: warm up, then median of repetitions."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Plan:
    """How many calls to time: ``reps`` repetitions of ``calls`` after ``warmup`` calls.

    ``flat_out_calls`` is the length of the no-loss run, which is one untimed-by-repetition
    loop rather than repetitions.
    """

    calls: int
    reps: int
    warmup: int
    flat_out_calls: int

    def for_spans(self, spans_per_call: int) -> Plan:
        """The same number of spans per repetition, whatever the trace shape."""
        return Plan(
            max(1, self.calls // spans_per_call),
            self.reps,
            self.warmup // spans_per_call,
            self.flat_out_calls,
        )


FULL = Plan(calls=20_000, reps=7, warmup=2_000, flat_out_calls=100_000)
QUICK = Plan(calls=2_000, reps=3, warmup=200, flat_out_calls=10_000)


def time_calls(
    call: Callable[[], object], plan: Plan, settle: Callable[[], object] | None = None
) -> list[float]:
    """Return the nanoseconds per call of each repetition.

    ``settle`` runs after every repetition, outside the clock: scenarios pass their flush
    there, so one repetition's export backlog is not billed to the next. The garbage
    collector stays on inside the timed loop, because real apps pay for it too; it is
    emptied before each repetition so every repetition starts from the same heap.
    """
    for _ in range(plan.warmup):
        call()
    if settle is not None:
        settle()
    samples: list[float] = []
    for _ in range(plan.reps):
        gc.collect()
        start = time.perf_counter_ns()
        for _ in range(plan.calls):
            call()
        samples.append((time.perf_counter_ns() - start) / plan.calls)
        if settle is not None:
            settle()
    return samples


def calls_made(plan: Plan) -> int:
    """How many calls :func:`time_calls` makes in all, warm-up included."""
    return plan.warmup + plan.reps * plan.calls


def summary(ns_per_call: list[float], spans_per_call: int) -> dict[str, object]:
    """The fields every timed scenario reports, in microseconds per span."""
    per_span = [ns / spans_per_call / 1000 for ns in ns_per_call]
    return {
        "spans_per_call": spans_per_call,
        "us_per_span": statistics.median(per_span),
        "us_per_span_min": min(per_span),
        "us_per_span_max": max(per_span),
        "reps_us_per_span": per_span,
    }
