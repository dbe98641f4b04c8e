"""Trace-level facts from span records: root, state, previews, tags, metadata, token totals.

Pure functions over :class:`~genai_trace._semantics.model.SpanRecord` values, so the same
rules serve a trace built from live OTel spans (``_runtime.builder``), parts of one trace
merged by the store (:func:`merge_parts`), and tests that need no OpenTelemetry. What an
exporter or a reader sees as "the trace's" name, state, previews and usage is decided here.

Layer: ``_semantics`` (pure values; imports nothing above it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeVar

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import from_text, truncate_text
from genai_trace._semantics.messages import (
    PREVIEW_MAX_CHARS,
    request_preview,
    request_preview_of_json,
    response_preview,
    response_preview_of_json,
)
from genai_trace._semantics.model import (
    LinkedSpan,
    TokenUsage,
    Trace,
    TraceInfo,
    TraceState,
    build_frozen,
    find_root,
)


class SpanFacts(LinkedSpan, Protocol):
    """What the trace's facts read of a span: a :class:`SpanRecord`, or a span's view."""

    @property
    def trace_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def end_time_ns(self) -> int | None: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...
    @property
    def inputs(self) -> Any: ...
    @property
    def outputs(self) -> Any: ...
    @property
    def token_usage(self) -> TokenUsage | None: ...
    @property
    def span_type(self) -> str: ...
    @property
    def cost_usd(self) -> float | None: ...


_S = TypeVar("_S", bound=SpanFacts)


class BillableSpan(Protocol):
    """What the billing rule (:func:`billed_spans`) reads of a span."""

    @property
    def span_id(self) -> str: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def span_type(self) -> str: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...
    @property
    def token_usage(self) -> TokenUsage | None: ...


_B = TypeVar("_B", bound=BillableSpan)

_OPENINFERENCE_KINDS = ("LLM", "CHAIN", "RETRIEVER", "TOOL", "AGENT", "EMBEDDING", "RERANKER",
                        "GUARDRAIL", "EVALUATOR", "UNKNOWN")  # fmt: skip


@dataclass
class TraceUpdates:
    """Trace-level facts set while the trace ran (``update_current_trace``); they win."""

    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


def trace_info(
    records: Sequence[SpanFacts],
    updates: TraceUpdates | None = None,
    incomplete_reason: str | None = None,
    dropped_spans: int = 0,
) -> TraceInfo:
    """The facts of a trace whose spans are ``records`` (parents first).

    Facts set through ``updates`` win over the root's attributes, which win over what is
    computed from the spans.
    """
    updates = updates or _NO_UPDATES
    one = len(records) == 1  # most traces: no search, no sum
    root = records[0] if one else root_of(records)
    attributes = root.attributes
    request = updates.request_preview
    if request is None:
        request = text_value(attributes.get(sc.TRACE_REQUEST_PREVIEW))
    response = updates.response_preview
    if response is None:
        response = text_value(attributes.get(sc.TRACE_RESPONSE_PREVIEW))
    client_request_id = updates.client_request_id
    if client_request_id is None:
        client_request_id = text_value(attributes.get(sc.TRACE_CLIENT_REQUEST_ID))
    tags = _collect_tags(records)
    metadata = _collect_metadata(records)
    if updates is not _NO_UPDATES:
        tags.update(updates.tags)
        metadata.update(updates.metadata)
    return build_frozen(
        TraceInfo,
        {
            "trace_id": root.trace_id,
            "name": root.name,
            "state": _state_of(root),
            "start_time_ns": root.start_time_ns if one else min(r.start_time_ns for r in records),
            "end_time_ns": root.end_time_ns if one else _end_of(root, records),
            "request_preview": _computed_request_preview(root)
            if request is None
            else truncate_text(request, PREVIEW_MAX_CHARS),
            "response_preview": _computed_response_preview(root)
            if response is None
            else truncate_text(response, PREVIEW_MAX_CHARS),
            "span_count": len(records),
            "client_request_id": client_request_id,
            "tags": tags,
            "metadata": metadata,
            "session_id": _first_str(updates.session_id, records, sc.SESSION_ID),
            "user_id": _first_str(updates.user_id, records, sc.USER_ID),
            "token_usage": root.token_usage if one else total_token_usage(records),
            "complete": incomplete_reason is None,
            "incomplete_reason": incomplete_reason,
            "dropped_spans": dropped_spans,
            "cost_usd": root.cost_usd if one else _trace_cost(records),
        },
    )


_NO_UPDATES = TraceUpdates()  # read, never written


def _computed_request_preview(root: SpanFacts) -> str | None:
    # A span view knows when its payload is still the JSON it was recorded as: the
    # preview is then often that text, found without decoding and encoding it again.
    text: str | None = getattr(root, "input_json", None)
    preview = None if text is None else request_preview_of_json(text)
    return request_preview(root.inputs) if preview is None else preview


def _computed_response_preview(root: SpanFacts) -> str | None:
    text: str | None = getattr(root, "output_json", None)
    preview = None if text is None else response_preview_of_json(text)
    return response_preview(root.outputs) if preview is None else preview


def _first_str(given: str | None, records: Sequence[SpanFacts], key: str) -> str | None:
    """``given``, else the first span's non-empty text under ``key``."""
    if given is not None:
        return given
    for record in records:
        value = record.attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def merge_parts(parts: Sequence[Trace]) -> Trace:
    """One trace from its parts, exported apart: by other processes, or as late spans.

    Each part may itself be a merge of earlier parts (the store keeps one merged row). The
    spans are the union (a span id seen again replaces the earlier copy). The root is the
    root of the union (:func:`find_root`), and the part holding it, the primary, gives the
    trace its facts: name and state follow the root as in :func:`build_trace`; start, end,
    span count and token totals are computed over all spans. A preview set explicitly
    (``update_current_trace``) in any part wins over one computed from the primary's root,
    which wins over one from another part. Tags and metadata are merged key by key (the
    primary's win), session, user and client request id come from the primary if it has
    them; the trace is complete only if every part was.

    Raises:
        ValueError: no part has a span.
    """
    by_id = {span.span_id: span for part in parts for span in part.spans}
    records = parents_first(list(by_id.values()))
    root = root_of(records)
    primary = next(p for p in reversed(parts) if any(s.span_id == root.span_id for s in p.spans))
    infos = [*(p.info for p in parts if p is not primary), primary.info]  # the primary's last
    primary_info = primary.info
    info = build_frozen(
        TraceInfo,
        {
            "trace_id": primary_info.trace_id,
            "name": root.name,
            "state": _state_of(root),
            "start_time_ns": min(r.start_time_ns for r in records),
            "end_time_ns": _end_of(root, records),
            "request_preview": _merged_preview(
                (root, *records),
                sc.TRACE_REQUEST_PREVIEW,
                [i.request_preview for i in reversed(infos)],
            ),
            "response_preview": _merged_preview(
                (root, *records),
                sc.TRACE_RESPONSE_PREVIEW,
                [i.response_preview for i in reversed(infos)],
            ),
            "span_count": len(records),
            "client_request_id": first(*(i.client_request_id for i in reversed(infos))),
            "tags": {k: v for i in infos for k, v in i.tags.items()},
            "metadata": {k: v for i in infos for k, v in i.metadata.items()},
            "session_id": first(*(i.session_id for i in reversed(infos))),
            "user_id": first(*(i.user_id for i in reversed(infos))),
            "token_usage": total_token_usage(records),
            "complete": all(i.complete for i in infos),
            "incomplete_reason": first(*(i.incomplete_reason for i in reversed(infos))),
            "dropped_spans": sum(i.dropped_spans for i in infos),
            "cost_usd": _trace_cost(records),
        },
    )
    return Trace(info=info, spans=tuple(records))


def parents_first(records: Sequence[_S]) -> list[_S]:
    """``records`` with each parent before its children, siblings in start order."""
    return _parents_first(sorted(records, key=lambda r: r.start_time_ns))


def _state_of(root: SpanFacts) -> TraceState:
    if root.end_time_ns is None:
        return "IN_PROGRESS"
    return "ERROR" if root.status == "ERROR" else "OK"


def _end_of(root: SpanFacts, records: Sequence[SpanFacts]) -> int | None:
    """The last span's end, once the root has ended (``None`` while it runs)."""
    if root.end_time_ns is None:
        return None
    return max(r.end_time_ns for r in records if r.end_time_ns is not None)


def _merged_preview(
    records: Sequence[SpanFacts], key: str, from_parts: Sequence[str | None]
) -> str | None:
    """An explicit preview on a span (the root first), else the parts' (the primary's first)."""
    for record in records:
        explicit = _str_attr(record, key)
        if explicit is not None:
            return truncate_text(explicit, PREVIEW_MAX_CHARS)
    return first(*from_parts)


def root_of(records: Sequence[_S]) -> _S:
    """The trace's root among ``records`` (parents first): the local root if it is there."""
    root = find_root(records)
    if root is None:
        raise ValueError("a trace needs at least one span")
    return root


def span_type_of(attributes: Mapping[str, Any]) -> str:
    """Our span type, else the OpenInference kind, else the GenAI operation, else UNKNOWN."""
    explicit = attributes.get(sc.SPAN_TYPE)
    if isinstance(explicit, str) and explicit:
        return explicit
    kind = attributes.get(sc.OPENINFERENCE_SPAN_KIND)
    if isinstance(kind, str) and kind.upper() in _OPENINFERENCE_KINDS and kind.upper() != "UNKNOWN":
        return kind.upper()
    operation = attributes.get(sc.GEN_AI_OPERATION_NAME)
    if isinstance(operation, str) and operation in sc.SPAN_TYPE_OF_GEN_AI_OPERATION:
        return sc.SPAN_TYPE_OF_GEN_AI_OPERATION[operation]
    return "UNKNOWN"


# Instrumentations whose gen_ai.usage.input_tokens leave the cached tokens out (Bedrock
# reports them apart and its instrumentation passes inputTokens on as it is), by scope.
_INPUT_WITHOUT_CACHE_SCOPES = ("opentelemetry.instrumentation.genai.bedrock",)


def token_usage_of(attributes: Mapping[str, Any], scope: str | None = None) -> TokenUsage | None:
    """Token usage from OpenInference or GenAI attributes, ``None`` when neither is there.

    The cache and reasoning counts come from the GenAI keys, else OpenInference's
    ``llm.token_count.*_details.*``; both GenAI cache-write names are read. ``scope``: the
    instrumentation that recorded the span; one known to leave cached tokens out of the
    input gets them added back, so ``input_tokens`` counts every input token.
    """
    usage = _recorded_usage(attributes)
    if (
        usage is not None
        and scope is not None
        and scope.startswith(_INPUT_WITHOUT_CACHE_SCOPES)
        and (usage.cache_read_input_tokens or usage.cache_write_input_tokens)
    ):
        extra = usage.cache_read_input_tokens + usage.cache_write_input_tokens
        return replace(
            usage,
            input_tokens=usage.input_tokens + extra,
            total_tokens=usage.total_tokens + extra,
        )
    return usage


_COUNT_KEYS = frozenset(
    {
        sc.LLM_TOKEN_COUNT_PROMPT,
        sc.LLM_TOKEN_COUNT_COMPLETION,
        sc.LLM_TOKEN_COUNT_TOTAL,
        sc.GEN_AI_USAGE_INPUT_TOKENS,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    }
)
"""Usage is recorded only where one of these is: most spans are not model calls."""


def _recorded_usage(attributes: Mapping[str, Any]) -> TokenUsage | None:
    if _COUNT_KEYS.isdisjoint(attributes):  # one C-speed pass over the span's keys
        return None
    for input_key, output_key, total_key in (
        (sc.LLM_TOKEN_COUNT_PROMPT, sc.LLM_TOKEN_COUNT_COMPLETION, sc.LLM_TOKEN_COUNT_TOTAL),
        (sc.GEN_AI_USAGE_INPUT_TOKENS, sc.GEN_AI_USAGE_OUTPUT_TOKENS, None),
    ):
        input_tokens = _int(attributes.get(input_key))
        output_tokens = _int(attributes.get(output_key))
        total = _int(attributes.get(total_key)) if total_key else None
        if input_tokens is None and output_tokens is None and total is None:
            continue
        return _usage(
            input_tokens,
            output_tokens,
            total,
            _first_int(
                attributes.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS),
                attributes.get(sc.LLM_TOKEN_COUNT_CACHE_READ),
            ),
            _first_int(
                attributes.get(sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS),
                attributes.get(sc.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS),
                attributes.get(sc.LLM_TOKEN_COUNT_CACHE_WRITE),
            ),
            _first_int(
                attributes.get(sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS),
                attributes.get(sc.LLM_TOKEN_COUNT_REASONING),
            ),
        )
    return None


def usage_from_output(outputs: Any) -> TokenUsage | None:
    """Token usage from a provider response recorded as an output (its ``usage`` key).

    OpenAI's chat and responses shapes (cached and reasoning tokens in their ``*_details``)
    and Anthropic's, whose ``input_tokens`` leaves out the cache reads and writes: they are
    added back, so ``input_tokens`` counts every input token as the conventions say.
    """
    usage = outputs.get("usage") if isinstance(outputs, dict) else None
    if not isinstance(usage, dict):
        return None
    input_tokens = _first_int(usage.get("prompt_tokens"), usage.get("input_tokens"))
    output_tokens = _first_int(usage.get("completion_tokens"), usage.get("output_tokens"))
    total = _int(usage.get("total_tokens"))
    if input_tokens is None and output_tokens is None and total is None:
        return None
    input_details = _dict(usage.get("prompt_tokens_details") or usage.get("input_tokens_details"))
    output_details = _dict(
        usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    )
    cache_read = _first_int(
        input_details.get("cached_tokens"), usage.get("cache_read_input_tokens")
    )
    cache_write = _int(usage.get("cache_creation_input_tokens"))
    if "cache_read_input_tokens" in usage or "cache_creation_input_tokens" in usage:
        input_tokens = (input_tokens or 0) + (cache_read or 0) + (cache_write or 0)
    return _usage(
        input_tokens,
        output_tokens,
        total,
        cache_read,
        cache_write,
        _first_int(output_details.get("reasoning_tokens"), output_details.get("thinking_tokens")),
    )


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def total_token_usage(records: Sequence[SpanFacts]) -> TokenUsage | None:
    """Sum usage over spans that carry it, skipping a span whose descendant also does.

    A manual LLM span that wraps an instrumented client call would otherwise count the
    same tokens twice.
    """
    with_usage = [r for r in records if r.token_usage is not None]
    if not with_usage:
        return None
    covered = _covered_by_usage(records)
    total = TokenUsage()
    for record in with_usage:
        if record.span_id not in covered and record.token_usage is not None:
            total = total + record.token_usage
    return total


def billed_spans(records: Sequence[_B]) -> list[_B]:
    """The spans whose usage and cost count in the trace's totals, once per call.

    The rule (``docs/usage-and-cost.md``): a span with token usage counts unless one of its
    descendants has usage too; then the descendant, closer to the call, describes the same
    call (a manual LLM span around an instrumented client call, or two instrumentations of
    one call). A span with a cost of its own (``set_cost``) and no usage counts too, unless
    it is an LLM span with a descendant that has usage (the same call, priced twice).
    """
    covered = _covered_by_usage(records)
    billed: list[_B] = []
    for record in records:
        if record.token_usage is not None:
            if record.span_id not in covered:
                billed.append(record)
        elif sc.COST_USD in record.attributes and not (
            record.span_type in sc.LLM_SPAN_TYPES and record.span_id in covered
        ):
            billed.append(record)
    return billed


def _covered_by_usage(records: Sequence[BillableSpan]) -> set[str]:
    """The ancestors of every span with usage."""
    parent_of = {r.span_id: r.parent_id for r in records}
    covered: set[str] = set()
    for record in records:
        if record.token_usage is None:
            continue
        parent = parent_of.get(record.span_id)
        # Above a covered span everything is covered already: linear overall, cycle-proof.
        while parent is not None and parent not in covered:
            covered.add(parent)
            parent = parent_of.get(parent)
    return covered


def _trace_cost(records: Sequence[SpanFacts]) -> float | None:
    """The trace's ``cost_usd``: the known costs of its billed spans, summed, else ``None``."""
    if not any(r.token_usage is not None or sc.COST_USD in r.attributes for r in records):
        return None  # no call, no cost: no tree to walk
    cost: float | None = None
    for record in billed_spans(records):
        span_cost = record.cost_usd
        if span_cost is not None:
            cost = span_cost if cost is None else cost + span_cost
    return cost


def _parents_first(records: list[_S]) -> list[_S]:
    """Order spans so each parent comes before its children (start order otherwise)."""
    ids = {r.span_id for r in records}
    children: dict[str | None, list[_S]] = {}
    for record in records:
        key = record.parent_id if record.parent_id in ids else None
        children.setdefault(key, []).append(record)
    out: list[_S] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        record = stack.pop()
        out.append(record)
        stack.extend(reversed(children.get(record.span_id, [])))
    if len(out) != len(records):  # a parent cycle cannot happen in OTel; keep every span anyway
        seen = {r.span_id for r in out}
        out.extend(r for r in records if r.span_id not in seen)
    return out


def _collect_tags(records: Iterable[SpanFacts]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for record in records:
        attributes = record.attributes
        # Most spans have no tag: one search of their keys joined, at C speed, says so.
        if sc.TAG_PREFIX not in "\n".join(attributes):
            continue
        for key, value in attributes.items():
            if key.startswith(sc.TAG_PREFIX):
                tags[key[len(sc.TAG_PREFIX) :]] = str(value)
    return tags


def _collect_metadata(records: Iterable[SpanFacts]) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for record in records:
        raw = record.attributes.get(sc.METADATA)
        if isinstance(raw, str):
            decoded = from_text(raw, sc.MIME_JSON)
            if isinstance(decoded, dict):
                metadata.update(decoded)
    return metadata


def _usage(
    input_tokens: int | None,
    output_tokens: int | None,
    total: int | None,
    cache_read: int | None = None,
    cache_write: int | None = None,
    reasoning: int | None = None,
) -> TokenUsage:
    input_tokens = input_tokens or 0
    output_tokens = output_tokens or 0
    return TokenUsage(
        input_tokens,
        output_tokens,
        total or input_tokens + output_tokens,
        cache_read or 0,
        cache_write or 0,
        reasoning or 0,
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _first_int(*values: Any) -> int | None:
    for value in values:
        number = _int(value)
        if number is not None:
            return number
    return None


def text_value(value: Any) -> str | None:
    """``value`` if it is a non-empty string, else ``None``."""
    return value if isinstance(value, str) and value else None


def _str_attr(record: SpanFacts, key: str) -> str | None:
    return text_value(record.attributes.get(key))


def first(*values: str | None) -> str | None:
    """The first value that is not ``None``."""
    for value in values:
        if value is not None:
            return value
    return None
