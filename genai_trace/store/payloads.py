"""A trace's spans as the store keeps them: one JSON array per trace, compressed.

Spans of one trace repeat each other (a retriever's output is the next span's input, the
root's output is the LLM's): compressed together, the copies cost little. A span's inputs
and outputs decoded from its ``input.value``/``output.value`` attributes are stored once,
as those attributes (the key ``"io"`` says which); :func:`unpack_spans` decodes them back
as the span's view did. A chat's payload is then
encoded, compressed and written once, not twice. Two dictionaries make the first copy
cheap too (zlib's preset dictionary, ``zdict``):

- the trace's own previews, which its row keeps as plain text anyway: the request and the
  response are then stored once, in the columns the lists read;
- a store dictionary, 8 KB of earlier traces' JSON (``dictionaries``, made once per store
  by :class:`DictionarySampler`): the keys, attribute names and words traces share.

zlib (standard library) at level 1: higher levels save 4% more for a third more CPU;
zstandard would be a new dependency for what zlib's dictionaries already reach
(``bench/store_size.py``). Packed JSON under :data:`COMPRESS_FROM` stays plain.

A packed row depends on its previews: whatever changes a trace's previews writes its
spans again (the store's merge of a late part does both in one statement batch).

Layer: ``store``; imports ``_semantics`` only.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import clean_text, from_text, safe_repr
from genai_trace._semantics.codec import dumps, dumps_utf8, loads
from genai_trace._semantics.facts import SpanFacts
from genai_trace._semantics.model import usage_dict
from genai_trace._semantics.redaction import recorded_items

_LEVEL = 1
INPUTS_IN_ATTRIBUTES = 1
OUTPUTS_IN_ATTRIBUTES = 2
"""Bits of a stored span's ``"io"``: its inputs, its outputs are read from its attributes."""
_UNSTORED = frozenset({"trace_id", "duration_ms"})
"""Keys every span dict has and none needs stored: the row's trace, and what is computed."""
_NONE_BY_DEFAULT = frozenset(
    {
        "parent_id",
        "end_time_ns",
        "status_message",
        "inputs",
        "outputs",
        "token_usage",
        "model",
        "instrumentation_scope",
    }
)
"""Keys left out when ``None``; :func:`unpack_spans` puts them back."""


@dataclass(frozen=True)
class Dictionary:
    """A store dictionary: its row id in ``dictionaries`` and its bytes."""

    id: int
    data: bytes


class Packed(NamedTuple):  # made for every trace written: a tuple is the cheapest to make
    """A trace's spans as stored.

    The bytes, the store dictionary used (``None``: none), and the JSON before compression
    (what :class:`DictionarySampler` learns from).
    """

    spans: bytes
    dictionary_id: int | None
    json: bytes


def pack_spans(
    spans: Sequence[dict[str, Any]], previews: Sequence[str | None], dictionary: Dictionary | None
) -> Packed:
    """The stored bytes of a trace's spans, each in its stored form (:func:`stored_span`).

    ``previews``: the trace's request and response previews as its row stores them. Text
    that UTF-8 cannot hold (a lone surrogate that got past capture, from another
    instrumentation) is stored with U+FFFD in its place: the trace is kept, not refused.
    """
    try:
        encoded = dumps_utf8(spans, default=safe_repr)
    except UnicodeEncodeError as unencodable:  # its object: the JSON text, written once
        encoded = clean_text(unencodable.object).encode()
    if len(encoded) < COMPRESS_FROM:
        return Packed(encoded, None, encoded)
    zdict = _zdict(dictionary.data if dictionary else b"", previews)
    compressor = zlib.compressobj(_LEVEL, zdict=zdict) if zdict else zlib.compressobj(_LEVEL)
    packed = compressor.compress(encoded) + compressor.flush()
    return Packed(packed, dictionary.id if dictionary else None, encoded)


COMPRESS_FROM = 1024
"""Packed JSON of this many bytes or more is compressed; a one-span trace seldom is: zlib's
fixed cost per call (about 10 µs) buys a few hundred bytes at most there."""


def unpack_spans(
    packed: bytes | str, trace_id: str, previews: Sequence[str | None], dictionary: bytes | None
) -> list[dict[str, Any]]:
    """The span dicts of :func:`pack_spans` (of the trace ``trace_id``), in the order packed.

    ``previews`` and ``dictionary`` (the store dictionary's bytes, if one was used) as
    they were packed with. ``duration_ms`` is not among the keys:
    :func:`~genai_trace._semantics.model.span_from_dict` computes it.
    """
    if isinstance(packed, str) or packed[:1] == b"[":
        text = packed
    else:
        zdict = _zdict(dictionary or b"", previews)
        decompressor = zlib.decompressobj(zdict=zdict) if zdict else zlib.decompressobj()
        text = decompressor.decompress(packed) + decompressor.flush()
    stored: list[dict[str, Any]] = loads(text)
    return [
        {
            **dict.fromkeys(_NONE_BY_DEFAULT),
            "trace_id": trace_id,
            "events": [],
            "parent_is_remote": False,
            "kind": "INTERNAL",
            **(span if "io" not in span else _with_payloads(span)),
        }
        for span in stored
    ]


def _with_payloads(span: dict[str, Any]) -> dict[str, Any]:
    """A stored span whose inputs or outputs were left to their attributes, with them back.

    Decoded from the attribute as the span's view decoded them when it was written.
    """
    span = dict(span)
    stored_in = span.pop("io")
    attributes = span.get("attributes") or {}
    for bit, key, value_key, mime_key in _PAYLOAD_KEYS:
        if stored_in & bit:
            span[key] = from_text(attributes.get(value_key), attributes.get(mime_key))
    return span


_PAYLOAD_KEYS = (
    (INPUTS_IN_ATTRIBUTES, "inputs", sc.INPUT_VALUE, sc.INPUT_MIME_TYPE),
    (OUTPUTS_IN_ATTRIBUTES, "outputs", sc.OUTPUT_VALUE, sc.OUTPUT_MIME_TYPE),
)


def _zdict(shared: bytes, previews: Sequence[str | None]) -> bytes:
    # The previews last: zlib reaches the end of a dictionary most cheaply.
    own = "\n".join(clean_text(p) for p in previews if p).encode()
    return shared + own


class DictionarySampler:
    """Learns a store dictionary from the first traces a writer packs.

    The last :data:`DICTIONARY_BYTES` of their JSON, once :data:`SAMPLE_BYTES` were seen:
    traces of one app share their keys, attribute names, prompts and words, and zlib finds
    them in the dictionary as it would in a window of earlier traces.
    """

    def __init__(self) -> None:
        self._samples: list[bytes] = []
        self._seen = 0

    def add(self, packed: Packed) -> bytes | None:
        """Learn from ``packed``; the dictionary's bytes once enough was seen."""
        if len(packed.json) < COMPRESS_FROM:
            return None
        self._samples.append(packed.json)
        self._seen += len(packed.json)
        if self._seen < SAMPLE_BYTES:
            return None
        data = b"".join(self._samples)[-DICTIONARY_BYTES:]
        self._samples, self._seen = [], 0
        return data


DICTIONARY_BYTES = 8192
"""A store dictionary's size: 32 KB compressed 2% better for twice the CPU per trace."""
SAMPLE_BYTES = 65536
"""Packed JSON seen before a dictionary is made (about twenty traces of a few spans)."""


def span_type_counts(spans: Sequence[dict[str, Any]]) -> tuple[tuple[str, int], ...]:
    """Each span type of a trace and its count (its ``span_types`` rows, less the ``seq``)."""
    if len(spans) == 1:  # most traces
        return ((spans[0]["span_type"], 1),)
    return tuple(Counter(span["span_type"] for span in spans).items())


FACTS_BY_DEFAULT: dict[str, Any] = {
    "incomplete_reason": None,
    "dropped_spans": 0,
    "tags": {},
    "metadata": {},
    "token_usage": None,
    "cost_usd": None,
}
"""The facts of a trace without a column of their own, at their defaults."""


def stored_facts(info: dict[str, Any]) -> str:
    """The ``info`` column of a trace, from its facts (``info_to_dict``'s shape).

    The facts without a column of their own, unless at their default: readers take the
    rest from the columns.
    """
    facts = {
        key: info[key]
        for key, default in FACTS_BY_DEFAULT.items()
        if key in info and info[key] != default
    }
    return dumps(facts, default=safe_repr) if facts else "{}"  # most traces: all at defaults


def stored_span(span: dict[str, Any]) -> dict[str, Any]:
    """A span as ``span_to_dict`` gives it, in its stored form: keys at defaults left out.

    An eighth of the bytes; :func:`unpack_spans` puts them back.
    """
    kept = {
        key: value
        for key, value in span.items()
        if key not in _UNSTORED and (value is not None or key not in _NONE_BY_DEFAULT)
    }
    if not kept.get("events", True):
        del kept["events"]
    if kept.get("parent_is_remote", True) is False:
        del kept["parent_is_remote"]
    if kept.get("kind") == "INTERNAL":
        del kept["kind"]
    attributes = span.get("attributes") or {}
    stored_in = 0
    for bit, key, value_key, mime_key in _PAYLOAD_KEYS:
        # Left to the attribute only where it decodes to them, as a span's view does.
        if value_key in attributes and from_text(
            attributes[value_key], attributes.get(mime_key)
        ) == span.get(key):
            kept.pop(key, None)
            stored_in |= bit
    if not stored_in:
        return kept
    # Where the view's stored form has it: just before the attributes.
    ordered: dict[str, Any] = {}
    for key, value in kept.items():
        if key == "attributes":
            ordered["io"] = stored_in
        ordered[key] = value
    return ordered


class _SpanView(SpanFacts, Protocol):
    """What :func:`stored_span_of_view` reads: a span view (``_runtime.builder.SpanView``)."""

    @property
    def span(self) -> ReadableSpan: ...
    @property
    def model(self) -> str | None: ...
    @property
    def instrumentation_scope(self) -> str | None: ...
    @property
    def input_json(self) -> str | None: ...
    @property
    def output_json(self) -> str | None: ...


def stored_span_of_view(view: _SpanView) -> dict[str, Any]:
    """``stored_span(span_to_dict(record))`` of the view's record, without the record.

    The same keys in the same order, made at once rather than made whole and then thinned.
    A payload left as recorded is stored once, as its attribute (see the module's doc).
    Encode the dict, never keep it: it shares the view's attributes.
    """
    span = view.span
    data: dict[str, Any] = {"span_id": view.span_id}
    if view.parent_id is not None:
        data["parent_id"] = view.parent_id
    data["name"] = view.name
    data["span_type"] = view.span_type
    data["start_time_ns"] = view.start_time_ns
    if view.end_time_ns is not None:
        data["end_time_ns"] = view.end_time_ns
    data["status"] = view.status
    description = span.status.description
    if description is not None:
        data["status_message"] = description
    model = view.model
    if model is not None:
        data["model"] = model
    if view.parent_is_remote:
        data["parent_is_remote"] = True
    kind = span.kind
    if kind is not SpanKind.INTERNAL:
        data["kind"] = kind.name
    scope = view.instrumentation_scope
    if scope is not None:
        data["instrumentation_scope"] = scope
    # A payload the view decodes from its attribute is stored there alone.
    attributes = view.attributes
    stored_in = 0
    for bit, key, value_key, _ in _PAYLOAD_KEYS:
        if value_key in attributes:
            stored_in |= bit
        else:
            value = getattr(view, key)  # decoded from the GenAI keys, if at all
            if value is not None:
                data[key] = value
    if stored_in:
        data["io"] = stored_in
    data["attributes"] = attributes
    events = recorded_items(span, "events")
    if events:
        data["events"] = [
            {"name": e.name, "timestamp_ns": e.timestamp, "attributes": dict(e.attributes or {})}
            for e in events
        ]
    usage = view.token_usage
    if usage is not None:
        data["token_usage"] = usage_dict(usage)
    cost = view.cost_usd
    if cost is not None:
        data["cost_usd"] = cost
    return data
