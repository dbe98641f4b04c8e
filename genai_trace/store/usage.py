"""Usage and cost in the local store: the rows the writer keeps, the sums readers ask for.

The writer keeps one ``usage_calls`` row per span that counts in its trace's usage and cost
(:func:`call_rows`, by the rule of ``_semantics.facts.billed_spans``). :func:`usage_summary`
sums them by model, or by session, user or tag (each trace with its calls), for
``genai-trace stats --by``, ``genai_trace.usage()`` and the viewer's dashboard: one query
layer for all three.

A store written before usage was kept reads as empty (its readers see an empty stand-in
``usage_calls``, ``schema._STAND_INS``); traces stored before the upgrade count in the sums
by session, user and tag without tokens or cost.

Layer: ``store``; imports ``_semantics`` and ``store.reader``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.facts import billed_spans
from genai_trace._semantics.model import TokenUsage
from genai_trace.store.reader import TraceReader

GROUPINGS = ("model", "session", "user", "tag")
"""What :func:`usage_summary` groups by."""

CALL_COLUMNS = (
    "trace_id, span_id, start_ns, model, span_type, status, duration_ms, input_tokens, "
    "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd"
)


class _SpanData:
    """A span's stored form (``payloads.stored_span``) as the billing rule reads a span."""

    __slots__ = ("attributes", "data", "parent_id", "span_id", "span_type", "token_usage")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.span_id = data["span_id"]
        self.parent_id = data.get("parent_id")
        self.span_type = data.get("span_type") or "UNKNOWN"
        self.attributes = data.get("attributes") or {}
        usage = data.get("token_usage")
        self.token_usage = TokenUsage(**usage) if isinstance(usage, dict) else None


def _may_bill(span: Mapping[str, Any]) -> bool:
    return span.get("token_usage") is not None or sc.COST_USD in (span.get("attributes") or {})


def call_rows(trace_id: str, spans: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The ``usage_calls`` rows of the trace ``trace_id``, from its spans' stored forms."""
    if not any(map(_may_bill, spans)):
        return []  # most traces of most apps: nothing billed
    rows = []
    for span in billed_spans([_SpanData(s) for s in spans]):
        data, usage = span.data, span.token_usage or TokenUsage()
        start, end = data["start_time_ns"], data.get("end_time_ns")
        rows.append(
            (
                trace_id,
                span.span_id,
                start,
                data.get("model"),
                span.span_type,
                data.get("status") or "UNSET",
                None if end is None else (end - start) / 1e6,
                usage.input_tokens,
                usage.output_tokens,
                usage.cache_read_input_tokens,
                usage.cache_write_input_tokens,
                usage.reasoning_tokens,
                data.get("cost_usd"),
            )
        )
    return rows


@dataclass(frozen=True)
class UsageRow:
    """Usage, cost, latency and errors of one group (a model, a session, a user, a tag)."""

    key: str | None
    """The model, session id, user id or ``tag=value``; ``None`` for what has none."""
    count: int
    """Calls (by model) or traces (by session, user, tag)."""
    errors: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost_usd: float | None
    """The known costs summed; ``None`` when none is known."""
    unpriced: int
    """Calls with usage but no known cost (``cost_usd`` leaves them out)."""
    p50_ms: float | None
    p95_ms: float | None

    @property
    def error_rate(self) -> float:
        """Errors over count, from 0 to 1."""
        return self.errors / self.count if self.count else 0.0

    @property
    def total_tokens(self) -> int:
        """Input and output tokens (the cache and reasoning kinds are parts of them)."""
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, Any]:
        """The row as plain data (``--json``, the viewer's API)."""
        return {
            "key": self.key,
            "count": self.count,
            "errors": self.errors,
            "error_rate": self.error_rate,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "total_tokens": self.total_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_usd": self.cost_usd,
            "unpriced": self.unpriced,
            "p50_ms": self.p50_ms,
            "p95_ms": self.p95_ms,
        }


_GROUP_SQL = {
    "model": (
        "SELECT model, status = 'ERROR', duration_ms, input_tokens, output_tokens, "
        "cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_usd, "
        "cost_usd IS NULL AND input_tokens + output_tokens > 0 "
        "FROM usage_calls WHERE start_ns >= :start"
    ),
    "session": "SELECT traces.session_id, {trace_values} WHERE traces.start_ns >= :start",
    "user": "SELECT traces.user_id, {trace_values} WHERE traces.start_ns >= :start",
    "tag": (
        "SELECT trace_tags.key || '=' || trace_tags.value, {trace_values} "
        "JOIN trace_tags ON trace_tags.trace_id = traces.trace_id WHERE traces.start_ns >= :start"
    ),
}
# Each trace with its billed calls summed (a call starts after its trace: same window).
_TRACE_VALUES = (
    "traces.state = 'ERROR', traces.duration_ms, coalesce(calls.input, 0), "
    "coalesce(calls.output, 0), coalesce(calls.cache_read, 0), coalesce(calls.cache_write, 0), "
    "coalesce(calls.reasoning, 0), calls.cost, coalesce(calls.unpriced, 0) "
    "FROM traces LEFT JOIN (SELECT trace_id, sum(input_tokens) AS input, "
    "sum(output_tokens) AS output, sum(cache_read_tokens) AS cache_read, "
    "sum(cache_write_tokens) AS cache_write, sum(reasoning_tokens) AS reasoning, "
    "sum(cost_usd) AS cost, "
    "sum(cost_usd IS NULL AND input_tokens + output_tokens > 0) AS unpriced "
    "FROM usage_calls WHERE start_ns >= :start GROUP BY trace_id) AS calls "
    "ON calls.trace_id = traces.trace_id"
)


def usage_summary(
    reader: TraceReader,
    by: str = "model",
    since_s: float | None = None,
    now_s: float | None = None,
) -> list[UsageRow]:
    """Usage, cost, p50/p95 latency and error rate per ``by`` group, costliest first.

    ``by``: ``model`` sums the billed calls (a call counts once, however many spans
    describe it); ``session``, ``user`` and ``tag`` sum whole traces. ``since_s``: only
    what started in the last that many seconds (``None``: everything).

    Raises:
        ValueError: ``by`` is not one of :data:`GROUPINGS`.
        TraceStoreError: the store cannot be read.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}, got {by!r}")
    start_ns = 0 if since_s is None else int(((now_s or time.time()) - since_s) * 1e9)
    sql = _GROUP_SQL[by].format(trace_values=_TRACE_VALUES)
    with reader.snapshot() as connection:
        rows = connection.execute(sql, {"start": start_ns}).fetchall()
    return _summarize(rows)


def _summarize(rows: Sequence[tuple[Any, ...]]) -> list[UsageRow]:
    groups: dict[str | None, list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault(row[0], []).append(row[1:])
    summary = [_group_row(key, values) for key, values in groups.items()]
    summary.sort(key=lambda r: (-(r.cost_usd or 0.0), -r.total_tokens, str(r.key)))
    return summary


def _group_row(key: str | None, values: Sequence[tuple[Any, ...]]) -> UsageRow:
    costs = [v[7] for v in values if v[7] is not None]
    durations = sorted(v[1] for v in values if v[1] is not None)
    return UsageRow(
        key=key,
        count=len(values),
        errors=sum(1 for v in values if v[0]),
        input_tokens=sum(v[2] for v in values),
        output_tokens=sum(v[3] for v in values),
        cache_read_tokens=sum(v[4] for v in values),
        cache_write_tokens=sum(v[5] for v in values),
        reasoning_tokens=sum(v[6] for v in values),
        cost_usd=sum(costs) if costs else None,
        unpriced=sum(v[8] for v in values),
        p50_ms=percentile(durations, 50),
        p95_ms=percentile(durations, 95),
    )


def percentile(ordered: Sequence[float], p: float) -> float | None:
    """The ``p``-th percentile of ``ordered`` (sorted), nearest rank; ``None`` when empty."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * p // 100))  # ceil without floats
    return float(ordered[int(rank) - 1])


def format_usage_table(rows: Sequence[UsageRow], by: str) -> str:
    """``rows`` as an aligned text table (``genai-trace stats --by``)."""
    count_header = "CALLS" if by == "model" else "TRACES"
    header = (
        f"{by.upper():<32}  {count_header:>7}  {'INPUT':>9}  {'CACHED':>9}  {'OUTPUT':>9}  "
        f"{'REASON':>8}  {'COST USD':>11}  {'P50':>9}  {'P95':>9}  {'ERRORS':>6}"
    )
    lines = [header]
    for row in rows:
        cost = "unknown" if row.cost_usd is None else f"{row.cost_usd:.6f}"
        if row.unpriced and row.cost_usd is not None:
            cost += "+"  # some calls have no price: the sum leaves them out
        lines.append(
            f"{_cell(row.key, 32):<32}  {row.count:>7}  {row.input_tokens:>9}  "
            f"{row.cache_read_tokens:>9}  {row.output_tokens:>9}  {row.reasoning_tokens:>8}  "
            f"{cost:>11}  {_ms(row.p50_ms):>9}  {_ms(row.p95_ms):>9}  {row.error_rate:>6.0%}"
        )
    if not rows:
        lines.append("(nothing in this period)")
    return "\n".join(lines)


def _cell(key: str | None, width: int) -> str:
    text = "(none)" if key is None else key
    return text if len(text) <= width else text[: width - 1] + "…"


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}ms" if value < 10_000 else f"{value / 1000:.1f}s"


def usage_over_time(
    reader: TraceReader,
    since_s: float,
    buckets: int,
    now_s: float | None = None,
) -> dict[str, Any]:
    """Cost, tokens and p95 latency of the billed calls per model, in ``buckets`` slices.

    The viewer's dashboard draws it: ``times`` are the slices' starts (epoch seconds), and
    each model's ``cost_usd``, ``tokens`` and ``p95_ms`` lists hold one value per slice
    (``None`` where the model had no call, or no known cost). ``models`` is the same
    models' :class:`UsageRow` over the whole period, costliest first.
    """
    now = time.time() if now_s is None else now_s
    start = now - since_s
    width = since_s / buckets
    times = [start + i * width for i in range(buckets)]
    with reader.snapshot() as connection:
        rows = connection.execute(
            "SELECT start_ns, model, status = 'ERROR', duration_ms, input_tokens, "
            "output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, "
            "cost_usd, 1 FROM usage_calls WHERE start_ns >= ? AND start_ns < ? "
            "AND input_tokens + output_tokens > 0",
            (int(start * 1e9), int(now * 1e9)),
        ).fetchall()
    slices: dict[str | None, list[list[tuple[Any, ...]]]] = {}
    for row in rows:
        index = min(int((row[0] / 1e9 - start) / width), buckets - 1)
        slices.setdefault(row[1], [[] for _ in range(buckets)])[index].append(
            (row[3], row[4] + row[5], row[9])
        )
    series = {str(model): _series(parts) for model, parts in slices.items()}
    summary = _summarize([row[1:] for row in rows])
    return {
        "bucket_s": width,
        "times": times,
        "series": series,
        "models": [row.to_dict() for row in summary],
    }


def _series(parts: Sequence[Sequence[tuple[Any, ...]]]) -> dict[str, list[Any]]:
    cost: list[float | None] = []
    tokens: list[int | None] = []
    p95: list[float | None] = []
    for calls in parts:
        known = [c for _, _, c in calls if c is not None]
        cost.append(sum(known) if known else None)
        tokens.append(sum(t for _, t, _ in calls) if calls else None)
        p95.append(percentile(sorted(d for d, _, _ in calls if d is not None), 95))
    return {"cost_usd": cost, "tokens": tokens, "p95_ms": p95}
