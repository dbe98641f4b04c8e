"""OTLP/protobuf bytes for a batch of spans, written in one pass.

The official encoder builds a protobuf message object per span, attribute and value, then
serializes them: on a genai-trace export thread that was half of the CPU an OTLP export cost.
This module writes the same ``ExportTraceServiceRequest`` straight to bytes: the resource
once, one ``ScopeSpans`` per instrumentation scope, keys (and short key-value pairs, which
repeat on every span: kinds, mime types, states) encoded once and cached. What it writes
decodes to the message the official ``encode_spans`` builds for the same spans
(``tests/exporters/test_otlp_wire.py`` compares them field by field).

Layer: ``exporters`` (OpenTelemetry SDK types in, bytes out; no state but bounded caches).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode

from genai_trace._semantics.redaction import dropped_nothing, recorded_items

_logger = logging.getLogger("genai_trace")

_fixed64 = struct.Struct("<Q").pack
_fixed32 = struct.Struct("<I").pack
_double = struct.Struct("<d").pack

_KINDS = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4,
          SpanKind.CONSUMER: 5}  # fmt: skip
_HAS_IS_REMOTE = 0x100  # SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK
_IS_REMOTE = 0x200  # SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
_KIND_FIELDS = {kind: b"\x30" + bytes((number,)) for kind, number in _KINDS.items()}
_LOCAL_FLAGS = b"\x85\x01" + _fixed32(_HAS_IS_REMOTE)
_REMOTE_PARENT_FLAGS = b"\x85\x01" + _fixed32(_HAS_IS_REMOTE | _IS_REMOTE)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

_CACHE_MAX = 4096  # per cache: keys and short values repeat, the rest is written each time
_key_cache: dict[str, bytes] = {}
_field_cache: dict[tuple[int, str, object, type], bytes] = {}

SpanWithAttributes = tuple[ReadableSpan, "Mapping[str, Any] | None"]
"""A span and the attributes to send for it (``None``: the span's own)."""


def encode_request(
    resource: Resource,
    spans: Iterable[SpanWithAttributes],
    scope_of: Callable[[ReadableSpan], InstrumentationScope | None] | None = None,
) -> bytes:
    """One ``ExportTraceServiceRequest`` carrying ``spans`` under ``resource``.

    Spans are grouped by instrumentation scope (``scope_of(span)``, by default the span's
    own) in order of first appearance (as the official encoder does); each span's own
    ``resource`` is not read: one resource for the batch.
    """
    request = RequestWriter(scope_of)
    request.add(spans)
    return request.finish(resource)


class RequestWriter:
    """An ``ExportTraceServiceRequest`` written a trace at a time (see :func:`encode_request`).

    Each span is bytes as soon as it is added: a batch of traces need not be kept whole
    until the request is written, only its spans' bytes, which the garbage collector never
    walks.
    """

    __slots__ = ("_by_scope", "_scope_of", "spans")

    def __init__(
        self, scope_of: Callable[[ReadableSpan], InstrumentationScope | None] | None = None
    ) -> None:
        self._by_scope: dict[InstrumentationScope | None, list[bytes]] = {}
        self._scope_of = scope_of
        self.spans = 0
        """Spans added so far."""

    def add(self, spans: Iterable[SpanWithAttributes]) -> None:
        """Write ``spans`` (each with the attributes to send, ``None``: its own)."""
        by_scope, scope_of = self._by_scope, self._scope_of
        for span, attributes in spans:
            encoded = _span(span, span.attributes if attributes is None else attributes)
            scope = (span.instrumentation_scope if scope_of is None else scope_of(span)) or None
            group = by_scope.get(scope)
            if group is None:
                by_scope[scope] = [encoded]
            else:
                group.append(encoded)
            self.spans += 1

    def finish(self, resource: Resource) -> bytes:
        """The request's bytes: every span added, under ``resource`` (empty with no span)."""
        if not self._by_scope:
            return b""
        # The scopes' messages are parts of the request's, joined with it once (see
        # _joined_field): a payload is not copied again for each message it is nested in.
        parts = [_field(0x0A, _resource(resource))]
        for scope, encoded_spans in self._by_scope.items():
            head = _field(0x0A, _scope(scope))
            tail = _field(0x1A, scope.schema_url.encode()) if scope and scope.schema_url else b""
            size = len(head) + sum(map(len, encoded_spans)) + len(tail)
            parts += (b"\x12" + _varint(size), head, *encoded_spans, tail)
        if resource.schema_url:
            parts.append(_field(0x1A, resource.schema_url.encode()))
        return _joined_field(0x0A, parts)


def _scope(scope: InstrumentationScope | None) -> bytes:
    if scope is None:
        return b""
    parts = []
    if scope.name:
        parts.append(_field(0x0A, scope.name.encode()))
    if scope.version:
        parts.append(_field(0x12, scope.version.encode()))
    parts.extend(_key_values(0x1A, scope.attributes))
    return b"".join(parts)


def _resource(resource: Resource) -> bytes:
    return b"".join(_key_values(0x0A, resource.attributes))


def _span(span: ReadableSpan, attributes: Mapping[str, Any] | None) -> bytes:
    context = span.get_span_context()
    assert context is not None  # an ended SDK span always has one
    parent = span.parent
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    trace_state = context.trace_state
    if trace_state:
        parts.append(_field(0x1A, ",".join(f"{k}={v}" for k, v in trace_state.items()).encode()))
    if parent is not None:
        parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
    if span.name:
        parts.append(_field(0x2A, span.name.encode()))
    parts.append(_KIND_FIELDS[span.kind])
    if span.start_time:
        parts.append(b"\x39" + _fixed64(span.start_time))
    if span.end_time:
        parts.append(b"\x41" + _fixed64(span.end_time))
    parts.extend(_key_values(0x4A, attributes))
    counted = not dropped_nothing(span)  # most spans: no count to read
    if counted and span.dropped_attributes:
        parts.append(b"\x50" + _varint(span.dropped_attributes))
    for event in recorded_items(span, "events"):
        parts.append(_field(0x5A, _event(event.name, event.timestamp, event)))
    if counted and span.dropped_events:
        parts.append(b"\x60" + _varint(span.dropped_events))
    for link in recorded_items(span, "links"):
        parts.append(_field(0x6A, _link(link.context, link.attributes, link)))
    if counted and span.dropped_links:
        parts.append(b"\x70" + _varint(span.dropped_links))
    status = span.status
    if status.status_code is StatusCode.UNSET and not status.description:
        parts.append(b"\x7a\x00")  # most spans: an empty status
    else:
        parts.append(_field(0x7A, _status(status)))
    parts.append(_REMOTE_PARENT_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS)
    return _joined_field(0x12, parts)


def _event(name: str, timestamp: int, event: Any) -> bytes:
    parts = []
    if timestamp:
        parts.append(b"\x09" + _fixed64(timestamp))
    if name:
        parts.append(_field(0x12, name.encode()))
    parts.extend(_key_values(0x1A, event.attributes))
    dropped = event.dropped_attributes
    if dropped:
        parts.append(b"\x20" + _varint(dropped))
    return b"".join(parts)


def _link(context: SpanContext, attributes: Mapping[str, Any] | None, link: Any) -> bytes:
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    parts.extend(_key_values(0x22, attributes))
    dropped = link.dropped_attributes
    if dropped:
        parts.append(b"\x28" + _varint(dropped))
    parts.append(b"\x35" + _fixed32(_flags(context)))
    return b"".join(parts)


def _status(status: Status) -> bytes:
    parts = []
    if status.description:
        parts.append(_field(0x12, status.description.encode()))
    code = status.status_code
    if code is not StatusCode.UNSET:
        parts.append(b"\x18" + _varint(code.value))
    return b"".join(parts)


def _flags(parent: SpanContext | None) -> int:
    if parent is not None and parent.is_remote:
        return _HAS_IS_REMOTE | _IS_REMOTE
    return _HAS_IS_REMOTE


def _key_values(tag: int, attributes: Mapping[str, Any] | None) -> list[bytes]:
    """Each attribute as a ``KeyValue`` field ``tag``; one the wire cannot carry is skipped."""
    if not attributes:
        return []
    out: list[bytes] = []
    append = out.append
    cache = _field_cache
    for key, value in attributes.items():
        kind = type(value)
        # Short values repeat on every span (kinds, mime types, states): the whole field,
        # tag included, comes from the cache. Long text (payloads) is written inline.
        if kind is bool or kind is int or (kind is str and len(value) <= 32):
            cached = cache.get((tag, key, value, kind))
            if cached is not None:
                append(cached)
                continue
        try:
            if kind is str and len(value) > 32:
                # The field's head, then the text: a payload is copied by the span's join
                # alone, not by each of the three messages it is nested in.
                encoded_key = _key_cache.get(key) or _encoded_key(key)
                text = value.encode()
                text_head = b"\x0a" + _varint(len(text))
                value_head = b"\x12" + _varint(len(text_head) + len(text))
                size = len(encoded_key) + len(value_head) + len(text_head) + len(text)
                append(bytes((tag,)) + _varint(size) + encoded_key + value_head + text_head)
                append(text)
                continue
            field = bytes((tag,)) + _key_value(key, value)
        except (TypeError, ValueError, OverflowError) as exc:
            _logger.debug("genai_trace: attribute %s not sent over OTLP: %s", key, exc)
            continue
        append(field)
        if (kind is bool or kind is int or kind is str) and len(cache) < _CACHE_MAX:
            cache[(tag, key, value, kind)] = field
    return out


def _key_value(key: str, value: Any) -> bytes:
    """A ``KeyValue`` message, its length first (without the field tag)."""
    encoded_key = _key_cache.get(key) or _encoded_key(key)
    body = encoded_key + _field(0x12, _any_value(value))
    return _varint(len(body)) + body


def _encoded_key(key: str) -> bytes:
    encoded = _field(0x0A, key.encode())
    if len(_key_cache) < _CACHE_MAX:
        _key_cache[key] = encoded
    return encoded


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message's content, with the official encoder's choice of field."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(0x0A, value.encode())
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise OverflowError(f"{value} does not fit in an int64")
        return b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    if isinstance(value, float):
        return b"\x21" + _double(value)
    if isinstance(value, bytes):
        return _field(0x3A, value)
    if isinstance(value, Sequence):
        return _field(0x2A, b"".join(_field(0x0A, _any_value(v)) for v in value))
    if isinstance(value, Mapping):
        pairs = b"".join(b"\x0a" + _key_value(str(k), v) for k, v in value.items())
        return _field(0x32, pairs)
    raise TypeError(f"invalid type {type(value).__name__} of value {value!r}")


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited field whose tag fits in one byte."""
    return bytes((tag,)) + _varint(len(payload)) + payload


def _joined_field(tag: int, parts: list[bytes]) -> bytes:
    """:func:`_field` of ``parts`` joined: its length summed, its bytes copied by one join."""
    return b"".join([bytes((tag,)) + _varint(sum(map(len, parts))), *parts])


def _varint(value: int) -> bytes:
    if value < 0x80:
        return _ONE_BYTE[value]
    if value < 0x4000:  # most lengths: two bytes
        return bytes(((value & 0x7F) | 0x80, value >> 7))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_ONE_BYTE = [bytes((value,)) for value in range(0x80)]


def spans_only(spans: Sequence[ReadableSpan]) -> list[SpanWithAttributes]:
    """``spans`` paired with their own attributes (for :func:`encode_request`)."""
    return [(span, None) for span in spans]
