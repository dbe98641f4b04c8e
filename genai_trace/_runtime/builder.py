"""Finished OTel spans to span views, the trace's facts, and the whole :class:`Trace`.

Runs on the export worker, never on the caller's thread. The SDK side stops here: each
``ReadableSpan`` gets a :class:`SpanView` (waiting redaction done, nothing decoded), the
trace-level facts are computed by ``_semantics.facts`` from the views, and a view becomes a
:class:`SpanRecord` (payloads decoded) only for a reader that needs records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from genai_trace._runtime.ids import format_span_id, format_trace_id
from genai_trace._runtime.live import live
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import (
    RECORDED_INPUT_JSON,
    RECORDED_OUTPUT_JSON,
    WaitingJSON,
    WaitingText,
    from_text,
    redact_waiting,
)
from genai_trace._semantics.facts import (
    TraceUpdates,
    first,
    parents_first,
    span_type_of,
    text_value,
    token_usage_of,
    trace_info,
    usage_from_output,
)
from genai_trace._semantics.messages import genai_inputs, genai_outputs, time_to_first_chunk_ms
from genai_trace._semantics.model import (
    SpanEvent,
    SpanRecord,
    SpanStatus,
    TokenUsage,
    Trace,
    TraceInfo,
    build_frozen,
)
from genai_trace._semantics.redaction import Redactor, attribute_store, recorded_items


def build_trace(
    spans: Sequence[ReadableSpan],
    updates: TraceUpdates | None = None,
    incomplete_reason: str | None = None,
    dropped_spans: int = 0,
) -> Trace:
    """Build the whole trace from its OTel spans (at least one).

    Payloads recorded unredacted (:class:`~genai_trace._semantics.capture.WaitingText`: their
    redaction waited while nothing else could read the spans) are redacted here.

    Spans come out parents first, siblings in start order. The root is the local root (no
    parent, or a remote one); in a partial trace without it, the earliest span whose parent
    is missing. Facts set through ``updates`` win over the root's attributes, which win over
    what is computed from the spans.

    Raises:
        ValueError: ``spans`` is empty.
    """
    views = finalize(spans)
    return trace_of_views(views, view_info(views, updates, incomplete_reason, dropped_spans))


def finalize(spans: Sequence[ReadableSpan], known_clean: bool = False) -> list[SpanView]:
    """Each span's view, parents first: waiting payloads redacted, nothing decoded.

    ``known_clean``: the waiting payloads were found to need no redaction already
    (:func:`waiting_payloads_clean`).

    Raises:
        ValueError: ``spans`` is empty.
    """
    if not spans:
        raise ValueError("a trace needs at least one span")
    if len(spans) == 1:  # most traces: nothing to order
        return [SpanView(spans[0], known_clean)]
    return parents_first([SpanView(s, known_clean) for s in spans])


def waiting_payloads_clean(traces: Sequence[Sequence[ReadableSpan]]) -> bool:
    """Whether no payload waiting for redaction in these traces' spans needs redacting.

    One first look over all of them (:meth:`~genai_trace._semantics.redaction.Redactor.all_clean`),
    instead of a few scans per payload; ``False`` may be wrong (each is then looked at alone).
    """
    json_texts: list[str] = []
    texts: list[str] = []
    for spans in traces:
        for span in spans:
            store = attribute_store(span)
            if store is None:
                return False
            for key in _PAYLOAD_KEYS:
                value = store.get(key)
                if isinstance(value, WaitingText):
                    (json_texts if type(value) is WaitingJSON else texts).append(value)
    if not json_texts and not texts:
        return False  # nothing waits: nothing to learn
    return (live.redactor or Redactor()).all_clean(json_texts, texts)


_PAYLOAD_KEYS = (sc.INPUT_VALUE, sc.OUTPUT_VALUE)


def view_info(
    views: Sequence[SpanView],
    updates: TraceUpdates | None = None,
    incomplete_reason: str | None = None,
    dropped_spans: int = 0,
) -> TraceInfo:
    """The trace's facts from its views (parents first): equal to those of its records.

    Only what a fact needs is decoded: the root's input or output for a computed preview,
    an LLM span's output when no token count was recorded.
    """
    return trace_info(views, updates, incomplete_reason, dropped_spans)


def trace_of_views(views: Sequence[SpanView], info: TraceInfo) -> Trace:
    """The full :class:`Trace`: a record per view, ``info`` as its facts."""
    return Trace(info=info, spans=tuple(view.record() for view in views))


class SpanView:
    """One ended span as exporters see it before (or instead of) its record.

    ``span`` is the SDK's span, ``attributes`` its final attributes: waiting payloads
    redacted and the time to a stream's first item named as ours. That dict is the span's
    own store unless one of those changed it (then a copy): read it, never write it. The
    facts a trace needs (ids, status, times, type, usage) are here; inputs and outputs are
    decoded on first read, the whole :class:`SpanRecord` by :meth:`record`.
    """

    __slots__ = (
        "_cost",
        "_decoded",
        "_recorded_json",
        "_usage",
        "attributes",
        "end_time_ns",
        "name",
        "parent_id",
        "parent_is_remote",
        "span",
        "span_id",
        "span_type",
        "start_time_ns",
        "status",
        "trace_id",
    )  # fmt: skip

    def __init__(self, span: ReadableSpan, known_clean: bool = False) -> None:
        attributes, self._recorded_json = _final_attributes(span, known_clean)
        context = span.context
        parent = span.parent
        valid_parent = parent is not None and parent.is_valid
        self.span = span
        self.attributes = attributes
        self.trace_id = format_trace_id(context.trace_id) if context else ""
        self.span_id = format_span_id(context.span_id) if context else ""
        self.parent_id = format_span_id(parent.span_id) if valid_parent and parent else None
        self.parent_is_remote = bool(valid_parent and parent and parent.is_remote)
        self.name = span.name
        self.span_type = span_type_of(attributes)
        self.start_time_ns = span.start_time or 0
        self.end_time_ns = span.end_time
        status_code = span.status.status_code
        self.status: SpanStatus = (
            "ERROR"
            if status_code is StatusCode.ERROR
            else "OK"
            if status_code is StatusCode.OK
            else "UNSET"
        )
        self._decoded: tuple[Any, Any] | None = None
        self._usage: tuple[TokenUsage | None] | None = None
        self._cost: tuple[float | None] | None = None

    @property
    def inputs(self) -> Any:
        """The decoded input (decoded on first read)."""
        return self._io()[0]

    @property
    def outputs(self) -> Any:
        """The decoded output (decoded on first read)."""
        return self._io()[1]

    @property
    def input_json(self) -> str | None:
        """The input's JSON text when it is as its value was recorded (compact, whole).

        Decoding and encoding it again gives the same text: a reader that would re-encode
        the decoded input may take the text instead. ``None`` otherwise.
        """
        return (
            self.attributes[sc.INPUT_VALUE] if self._recorded_json & RECORDED_INPUT_JSON else None
        )

    @property
    def output_json(self) -> str | None:
        """The output's JSON text when it is as its value was recorded (see :attr:`input_json`)."""
        if self._recorded_json & RECORDED_OUTPUT_JSON:
            return self.attributes[sc.OUTPUT_VALUE]  # type: ignore[no-any-return]
        return None

    @property
    def token_usage(self) -> TokenUsage | None:
        """Recorded token counts, else (LLM spans) the usage in the decoded output."""
        usage = self._usage
        if usage is None:
            found = token_usage_of(self.attributes, self._scope_name())
            if found is None and self.span_type in sc.LLM_SPAN_TYPES:
                found = usage_from_output(self.outputs)
            usage = self._usage = (found,)
        return usage[0]

    @property
    def cost_usd(self) -> float | None:
        """Its own cost (``set_cost``), else its usage priced by the table in force."""
        cost = self._cost
        if cost is None:
            own = self.attributes.get(sc.COST_USD)
            if isinstance(own, (int, float)) and not isinstance(own, bool):
                found: float | None = float(own)
            else:
                usage = self.token_usage
                found = None if usage is None else live.prices.cost(self._model(), usage)
            cost = self._cost = (found,)
        return cost[0]

    def _io(self) -> tuple[Any, Any]:
        decoded = self._decoded
        if decoded is None:
            attributes = self.attributes
            decoded = self._decoded = (
                _decode_io(attributes, sc.INPUT_VALUE, sc.INPUT_MIME_TYPE, genai_inputs),
                _decode_io(attributes, sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE, genai_outputs),
            )
        return decoded

    def record(self) -> SpanRecord:
        """The span's full record (its attributes a copy of the view's)."""
        span = self.span
        return build_frozen(
            SpanRecord,
            {
                "trace_id": self.trace_id,
                "span_id": self.span_id,
                "parent_id": self.parent_id,
                "name": self.name,
                "span_type": self.span_type,
                "start_time_ns": self.start_time_ns,
                "end_time_ns": self.end_time_ns,
                "status": self.status,
                "status_message": span.status.description,
                "inputs": self.inputs,
                "outputs": self.outputs,
                "attributes": dict(self.attributes),
                "events": tuple(
                    SpanEvent(e.name, e.timestamp, dict(e.attributes or {}))
                    for e in recorded_items(span, "events")
                ),
                "token_usage": self.token_usage,
                "model": self._model(),
                "parent_is_remote": self.parent_is_remote,
                "kind": _KIND_NAMES.get(span.kind) or span.kind.name,
                "instrumentation_scope": self._scope_name(),
                "cost_usd": self.cost_usd,
            },
        )

    @property
    def model(self) -> str | None:
        """The model the call used (response model, else request model)."""
        return self._model()

    @property
    def instrumentation_scope(self) -> str | None:
        """The name of the tracer that recorded the span."""
        return self._scope_name()

    def _model(self) -> str | None:
        attributes = self.attributes
        if _MODEL_KEYS.isdisjoint(attributes):  # most spans are not model calls
            return None
        return first(
            text_value(attributes.get(sc.GEN_AI_RESPONSE_MODEL)),
            text_value(attributes.get(sc.GEN_AI_REQUEST_MODEL)),
            text_value(attributes.get(sc.LLM_MODEL_NAME)),
        )

    def _scope_name(self) -> str | None:
        scope = self.span.instrumentation_scope
        return scope.name if scope is not None else None


_MODEL_KEYS = frozenset((sc.GEN_AI_RESPONSE_MODEL, sc.GEN_AI_REQUEST_MODEL, sc.LLM_MODEL_NAME))
_KIND_NAMES = {kind: kind.name for kind in SpanKind}  # an enum's .name is a property call


def span_record(span: ReadableSpan) -> SpanRecord:
    """Convert one OTel span into a :class:`SpanRecord`, decoding inputs and outputs."""
    return SpanView(span).record()


def _final_attributes(span: ReadableSpan, known_clean: bool) -> tuple[dict[str, Any], int]:
    """The span's attributes as exporters get them; copied only where they change.

    With which JSON payloads are left as recorded (``redact_waiting``'s bits).
    """
    attributes = attributes_of(span)
    waiting = isinstance(attributes.get(sc.INPUT_VALUE), WaitingText) or isinstance(
        attributes.get(sc.OUTPUT_VALUE), WaitingText
    )
    first_chunk_ms = (
        None if sc.TIME_TO_FIRST_ITEM_MS in attributes else time_to_first_chunk_ms(attributes)
    )
    if not waiting and first_chunk_ms is None:
        return attributes, 0
    attributes = dict(attributes)
    recorded = 0
    if waiting:
        recorded = redact_waiting(
            attributes, live.redactor, live.payload_cap, known_clean=known_clean
        )
    if first_chunk_ms is not None:
        # One name for the wait to the first item of any stream: our generators write it,
        # instrumented LLM streams get it from gen_ai.response.time_to_first_chunk.
        attributes[sc.TIME_TO_FIRST_ITEM_MS] = first_chunk_ms
    return attributes, recorded


def attributes_of(span: ReadableSpan) -> dict[str, Any]:
    """The dict behind an ended span's attributes: read it, never write it.

    Through the SDK's read-only view each key is fetched by a Python-level ``__getitem__``
    under a lock; the store behind it is read at C speed. A copy of the view is the fallback.
    """
    store = attribute_store(span)
    return store if store is not None else dict(span.attributes or {})


def _decode_io(
    attributes: Mapping[str, Any],
    value_key: str,
    mime_key: str,
    from_genai: Callable[[Mapping[str, Any]], Any],
) -> Any:
    """OpenInference ``input.value``/``output.value`` first, else the GenAI conventions."""
    if value_key in attributes:
        return from_text(attributes[value_key], attributes.get(mime_key))
    return from_genai(attributes)
