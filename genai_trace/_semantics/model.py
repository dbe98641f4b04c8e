"""The trace data model: immutable records of a whole trace, its facts and its spans.

Also their one shape as plain data (:meth:`Trace.to_dict`, written by the store, the CLI and
the viewer's API) and back.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Protocol, TypeVar

from genai_trace._semantics.capture import safe_repr
from genai_trace._semantics.codec import dumps
from genai_trace._semantics.feedback import Feedback, feedback_from_dict

TraceState = Literal["OK", "ERROR", "IN_PROGRESS"]
SpanStatus = Literal["OK", "ERROR", "UNSET"]
_T = TypeVar("_T")


@dataclass(frozen=True)
class TokenUsage:
    """Token counts of one LLM call, or summed over a trace.

    As in the OpenTelemetry GenAI conventions, the kinds nest: ``input_tokens`` counts
    every input token, the cached ones included (``cache_read_input_tokens`` were served
    from the provider's prompt cache, ``cache_write_input_tokens`` written to it), and
    ``output_tokens`` counts every output token, ``reasoning_tokens`` included.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    reasoning_tokens: int = 0

    def __repr__(self) -> str:
        # The detail kinds only when not 0: a call without caching or reasoning reads as
        # it always did.
        text = (
            f"TokenUsage(input_tokens={self.input_tokens}, "
            f"output_tokens={self.output_tokens}, total_tokens={self.total_tokens}"
        )
        for kind in _DETAIL_KINDS:
            count = getattr(self, kind)
            if count:
                text += f", {kind}={count}"
        return text + ")"

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.cache_write_input_tokens + other.cache_write_input_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )


@dataclass(frozen=True)
class SpanEvent:
    """Something that happened at a point in a span's life (an exception, first token...)."""

    name: str
    timestamp_ns: int
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SpanRecord:
    """One finished (or, in an incomplete trace, unfinished) span of a trace."""

    trace_id: str
    """32 hex digits."""
    span_id: str
    """16 hex digits."""
    parent_id: str | None
    """The parent's span id; ``None`` for a root. Set for a local root whose parent is remote."""
    name: str
    span_type: str
    """A :class:`~genai_trace.SpanType` value, a custom string, or ``UNKNOWN``."""
    start_time_ns: int
    end_time_ns: int | None
    """``None`` when the span had not ended when its trace was exported."""
    status: SpanStatus
    status_message: str | None
    inputs: Any
    outputs: Any
    attributes: Mapping[str, Any]
    """Every OTel attribute of the span, as recorded."""
    events: tuple[SpanEvent, ...] = ()
    token_usage: TokenUsage | None = None
    model: str | None = None
    parent_is_remote: bool = False
    """The parent lives in another process (the trace was continued from a carrier)."""
    kind: str = "INTERNAL"
    """The OTel span kind: ``INTERNAL``, ``SERVER``, ``CLIENT``, ``PRODUCER`` or ``CONSUMER``."""
    instrumentation_scope: str | None = None
    """The name of the tracer that recorded the span (``genai_trace`` for ours)."""
    cost_usd: float | None = None
    """What the span cost in US dollars: its own (``set_cost``), else its LLM call priced
    from the price table; ``None`` when unknown (no price for the model, or no usage)."""

    @property
    def duration_ms(self) -> float | None:
        """Milliseconds from start to end, ``None`` while unfinished."""
        if self.end_time_ns is None:
            return None
        return (self.end_time_ns - self.start_time_ns) / 1e6


@dataclass(frozen=True)
class TraceInfo:
    """Trace-level facts, computed once the trace is whole."""

    trace_id: str
    name: str
    state: TraceState
    start_time_ns: int
    end_time_ns: int | None
    request_preview: str | None
    response_preview: str | None
    span_count: int
    client_request_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    user_id: str | None = None
    token_usage: TokenUsage | None = None
    complete: bool = True
    """``False`` when exported before every span ended (timeout, limits, shutdown)."""
    incomplete_reason: str | None = None
    """Why ``complete`` is ``False``: ``timeout``, ``evicted``, ``span_limit``, ``late_span``,
    ``shutdown``."""
    dropped_spans: int = 0
    """Spans of this trace dropped by ``max_spans_per_trace``."""
    cost_usd: float | None = None
    """The trace's cost in US dollars: the known costs of the spans that count, summed
    (docs/usage-and-cost.md); ``None`` when no span's cost is known. A call whose model has
    no price adds nothing (the store's usage queries count such calls)."""

    @property
    def duration_ms(self) -> float | None:
        """Milliseconds from the first span's start to the last span's end."""
        if self.end_time_ns is None:
            return None
        return (self.end_time_ns - self.start_time_ns) / 1e6

    def to_dict(self) -> dict[str, Any]:
        """These facts as JSON-ready plain data: every field, plus ``duration_ms``.

        The same shape as ``Trace.to_dict()["info"]`` and ``genai-trace list --json``.
        """
        return info_to_dict(self)


@dataclass(frozen=True)
class Trace:
    """A whole trace: its facts (``info``) and its spans, parents before children.

    Example:
        >>> trace = genai_trace.get_trace(genai_trace.get_last_trace_id())
        >>> for span, depth in trace.walk():
        ...     print("  " * depth + span.name, span.duration_ms)
    """

    info: TraceInfo
    spans: tuple[SpanRecord, ...]
    feedback: tuple[Feedback, ...] = ()
    """Feedback and expectations logged on the trace, oldest first (read back from the
    store; see :func:`genai_trace.log_feedback`)."""

    def built(self) -> Trace:
        """This trace as a plain :class:`Trace`; one handed to exporters unbuilt is built now.

        A plain trace works with ``dataclasses.replace`` and ``type(trace) is Trace``.
        """
        return self

    @property
    def root(self) -> SpanRecord | None:
        """The root: a span without parent, else the outermost (see :func:`find_root`).

        ``None`` only for a trace without spans.
        """
        return find_root(self.spans)

    def get_span(self, name_or_id: str) -> SpanRecord | None:
        """Return the first span with this span id or, failing that, this name."""
        for span in self.spans:
            if span.span_id == name_or_id:
                return span
        for span in self.spans:
            if span.name == name_or_id:
                return span
        return None

    def children(self, span_id: str) -> list[SpanRecord]:
        """Return the direct children of ``span_id``, in start order."""
        return [s for s in self.spans if s.parent_id == span_id]

    def walk(self) -> Iterator[tuple[SpanRecord, int]]:
        """Yield ``(span, depth)`` depth-first from each root, children in start order."""
        ids = {s.span_id for s in self.spans}
        by_parent: dict[str | None, list[SpanRecord]] = {}
        for span in self.spans:
            parent = span.parent_id if span.parent_id in ids else None
            by_parent.setdefault(parent, []).append(span)
        stack = [(s, 0) for s in reversed(by_parent.get(None, []))]
        while stack:
            span, depth = stack.pop()
            yield span, depth
            stack.extend((c, depth + 1) for c in reversed(by_parent.get(span.span_id, [])))

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"info": {...}, "spans": [{...}, ...]}``, JSON-ready plain data.

        The one shape of a trace as data: ``genai-trace export`` and ``show --json``, the
        viewer's API and the local store write it. Each record holds every field plus
        ``duration_ms``; inputs and outputs are the recorded values, not copies.
        """
        return trace_to_dict(self)

    def to_json(self, indent: int | None = None) -> str:
        """Return :meth:`to_dict` as JSON text (values JSON cannot hold as their ``repr``)."""
        return dumps(self.to_dict(), default=safe_repr, indent=indent)

    def _repr_html_(self) -> str:
        """The trace drawn in a notebook cell (Jupyter, VS Code), as the viewer draws it.

        The waterfall and the span details, self-contained: no server, nothing fetched.
        """
        from genai_trace._semantics.notebook import trace_html

        return trace_html(self)


class LinkedSpan(Protocol):
    """What finding a root reads of a span (a record, or a span's view)."""

    @property
    def span_id(self) -> str: ...
    @property
    def parent_id(self) -> str | None: ...
    @property
    def parent_is_remote(self) -> bool: ...
    @property
    def start_time_ns(self) -> int: ...


_L = TypeVar("_L", bound=LinkedSpan)


def find_root(spans: Sequence[_L]) -> _L | None:
    """The root among ``spans``: the first span without a parent, else the outermost.

    The outermost is a span whose parent is not among ``spans``: one with a remote parent
    (a local root continued from a carrier) before an orphan, then the earliest. A span whose
    remote parent is among ``spans`` (a service called by a traced caller whose part is
    here too) is never the root.
    """
    for span in spans:
        if span.parent_id is None:
            return span
    ids = {s.span_id for s in spans}
    outer = [s for s in spans if s.parent_id not in ids]
    if outer:
        return min(outer, key=lambda s: (not s.parent_is_remote, s.start_time_ns))
    return spans[0] if spans else None


# --- plain data: the one shape of a trace as data, and back ---------------------------
#
# Generic over the dataclass fields, so a field added above travels without touching this.
# Fields copied as they are; the structured ones are converted by hand below (far cheaper
# than dataclasses.asdict, which deep-copies every value: the store writes every span).
_STRUCTURED = {"tags", "metadata", "token_usage", "inputs", "outputs", "attributes", "events"}
# Usage and cost facts appear in the data only when there is something to say, so a trace
# without them keeps the shape it always had (stores and tests of earlier releases).
_WHEN_SET = {"cost_usd"}
_INFO_FIELDS = tuple(f.name for f in fields(TraceInfo) if f.name not in _STRUCTURED | _WHEN_SET)
_SPAN_FIELDS = tuple(f.name for f in fields(SpanRecord) if f.name not in _STRUCTURED | _WHEN_SET)


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """``{"info": {...}, "spans": [{...}, ...]}`` (see :meth:`Trace.to_dict`)."""
    data = {"info": info_to_dict(trace.info), "spans": [span_to_dict(s) for s in trace.spans]}
    if trace.feedback:  # a trace without feedback keeps the shape it always had
        data["feedback"] = [fb.to_dict() for fb in trace.feedback]
    return data


def info_to_dict(info: TraceInfo) -> dict[str, Any]:
    """A ``TraceInfo`` as plain data (``duration_ms`` included for readers)."""
    data = {name: getattr(info, name) for name in _INFO_FIELDS}
    data["tags"] = dict(info.tags)
    data["metadata"] = dict(info.metadata)
    data["token_usage"] = usage_dict(info.token_usage)
    if info.cost_usd is not None:
        data["cost_usd"] = info.cost_usd
    data["duration_ms"] = info.duration_ms
    return data


def span_to_dict(span: SpanRecord) -> dict[str, Any]:
    """A ``SpanRecord`` as plain data (``duration_ms`` included for readers)."""
    data = {name: getattr(span, name) for name in _SPAN_FIELDS}
    # Inputs and outputs were decoded from JSON, attributes are OTel values (tuples encode
    # as arrays): all of it encodes as it is.
    data["inputs"] = span.inputs
    data["outputs"] = span.outputs
    data["attributes"] = dict(span.attributes)
    data["events"] = [
        {"name": e.name, "timestamp_ns": e.timestamp_ns, "attributes": dict(e.attributes)}
        for e in span.events
    ]
    data["token_usage"] = usage_dict(span.token_usage)
    if span.cost_usd is not None:
        data["cost_usd"] = span.cost_usd
    data["duration_ms"] = span.duration_ms
    return data


_DETAIL_KINDS = ("cache_read_input_tokens", "cache_write_input_tokens", "reasoning_tokens")


def usage_details(
    usage: TokenUsage, keys: tuple[str | None, str | None, str | None]
) -> dict[str, int]:
    """The cache-read, cache-write and reasoning counts that are not 0, under ``keys``.

    ``keys`` name the three kinds in a backend's conventions, in that order; ``None``: the
    backend has no key for that kind.
    """
    return {
        key: count
        for key, kind in zip(keys, _DETAIL_KINDS, strict=True)
        if key is not None and (count := getattr(usage, kind))
    }


def usage_dict(usage: TokenUsage | None) -> dict[str, int] | None:
    """Token usage as plain data: the three totals, and each detail kind that is not 0.

    The details are left out at 0 so a call without caching or reasoning keeps the shape
    it always had.
    """
    if usage is None:
        return None
    data = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
    data.update(usage_details(usage, _DETAIL_KINDS))
    return data


def trace_from_dict(data: Mapping[str, Any]) -> Trace:
    """Rebuild a :class:`Trace` from :func:`trace_to_dict` output."""
    return Trace(
        info=info_from_dict(data["info"]),
        spans=tuple(span_from_dict(s) for s in data.get("spans", ())),
        feedback=tuple(feedback_from_dict(f) for f in data.get("feedback", ())),
    )


def info_from_dict(data: Mapping[str, Any]) -> TraceInfo:
    """Rebuild a :class:`TraceInfo`; unknown keys are ignored, missing ones take defaults."""
    values = _known_fields(TraceInfo, data)
    values["token_usage"] = _usage(values.get("token_usage"))
    return TraceInfo(**values)


def span_from_dict(data: Mapping[str, Any]) -> SpanRecord:
    """Rebuild a :class:`SpanRecord`."""
    values = _known_fields(SpanRecord, data)
    values["token_usage"] = _usage(values.get("token_usage"))
    values["events"] = tuple(
        SpanEvent(e["name"], e["timestamp_ns"], e.get("attributes") or {})
        for e in values.get("events") or ()
    )
    return SpanRecord(**values)


def _known_fields(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _usage(value: Any) -> TokenUsage | None:
    if isinstance(value, TokenUsage) or value is None:
        return value
    return TokenUsage(**_known_fields(TokenUsage, value))


_FIELD_COUNTS: dict[type, int] = {}


def build_frozen(cls: type[_T], values: dict[str, Any]) -> _T:
    """Make a frozen dataclass from every one of its fields, skipping its ``__init__``.

    A frozen ``__init__`` sets each field through ``object.__setattr__``; the trace builder
    makes one record per span on the export worker, where that is a fifth of the work.

    Raises:
        TypeError: ``values`` does not name every field (a builder bug, caught in tests).
    """
    count = _FIELD_COUNTS.get(cls)
    if count is None:
        count = _FIELD_COUNTS[cls] = len(fields(cls))  # type: ignore[arg-type]  # a dataclass by contract
    if len(values) != count:
        raise TypeError(f"{cls.__name__} needs all {count} fields, got {sorted(values)}")
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record
