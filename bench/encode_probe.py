"""How much cheaper can OTLP protobuf be written by hand than by the official encoder?

``python -m bench.encode_probe [N]`` builds N finished OTel spans carrying the attributes
genai-trace's default dialect sends for the bench's 1-span trace (10 attributes on a root),
then times (a) the official path, ``encode_spans(spans).SerializeToString()``, and (b) a
minimal hand-written protobuf writer over the same spans, checks that (b) decodes to the
same ``ExportTraceServiceRequest`` as (a), and prints µs per span for each.

A feasibility probe for issue 15's design (one pass from spans to bytes), not a product:
it covers string/bool/int/float attributes, parents, status and kind, no events or links.
"""

from __future__ import annotations

import struct
import sys
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

_pack_q = struct.Struct("<Q").pack
_pack_d = struct.Struct("<d").pack


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _len_field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(payload)) + payload


_KEY_CACHE: dict[str, bytes] = {}
_PAIR_CACHE: dict[tuple[str, Any, type], bytes] = {}
_PAIR_CACHE_MAX = 4096  # bounded: only short values repeat (kinds, mime types, states)


def _key_value(key: str, value: Any) -> bytes:
    """One ``Span.attributes`` entry; short repeated pairs come from a bounded cache."""
    if isinstance(value, (bool, int)) or (isinstance(value, str) and len(value) <= 32):
        pair = (key, value, type(value))
        cached = _PAIR_CACHE.get(pair)
        if cached is None:
            cached = _encode_key_value(key, value)
            if len(_PAIR_CACHE) < _PAIR_CACHE_MAX:
                _PAIR_CACHE[pair] = cached
        return cached
    return _encode_key_value(key, value)


def _encode_key_value(key: str, value: Any) -> bytes:
    encoded_key = _KEY_CACHE.get(key)
    if encoded_key is None:
        encoded_key = _KEY_CACHE[key] = _len_field(0x0A, key.encode())
    if isinstance(value, str):
        any_value = _len_field(0x0A, value.encode())
    elif isinstance(value, bool):
        any_value = b"\x10\x01" if value else b"\x10\x00"
    elif isinstance(value, int):
        any_value = b"\x18" + _varint(value & 0xFFFFFFFFFFFFFFFF)
    else:
        any_value = b"\x21" + _pack_d(float(value))
    return _len_field(0x4A, encoded_key + _len_field(0x12, any_value))


_KIND = {SpanKind.INTERNAL: 1, SpanKind.SERVER: 2, SpanKind.CLIENT: 3, SpanKind.PRODUCER: 4,
         SpanKind.CONSUMER: 5}  # fmt: skip


def _span(span: ReadableSpan) -> bytes:
    context = span.context
    parts = [
        b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
        b"\x12\x08" + context.span_id.to_bytes(8, "big"),
    ]
    if span.parent is not None:
        parts.append(b"\x22\x08" + span.parent.span_id.to_bytes(8, "big"))
    parts.append(_len_field(0x2A, span.name.encode()))
    parts.append(b"\x30" + _varint(_KIND[span.kind]))
    parts.append(b"\x39" + _pack_q(span.start_time or 0))
    parts.append(b"\x41" + _pack_q(span.end_time or 0))
    parts.extend(_key_value(k, v) for k, v in (span.attributes or {}).items())
    code = span.status.status_code
    if code is not StatusCode.UNSET:
        status = b""
        if span.status.description:
            status += _len_field(0x12, span.status.description.encode())
        status += b"\x18" + _varint(code.value)
        parts.append(_len_field(0x7A, status))
    else:
        parts.append(b"\x7a\x00")
    flags = 0x100 | (0x200 if span.parent is not None and span.parent.is_remote else 0)
    parts.append(b"\x85\x01" + struct.pack("<I", flags))
    return _len_field(0x12, b"".join(parts))


def encode(spans: Sequence[ReadableSpan], resource: Resource) -> bytes:
    """One ExportTraceServiceRequest: one resource, one scope (all spans share them here)."""
    resource_bytes = _len_field(0x0A, b"".join(_attr(k, v) for k, v in resource.attributes.items()))
    scope = spans[0].instrumentation_scope
    assert scope is not None
    scope_bytes = _len_field(0x0A, _len_field(0x0A, scope.name.encode()))
    scope_spans = _len_field(0x12, scope_bytes + b"".join(_span(s) for s in spans))
    return _len_field(0x0A, resource_bytes + scope_spans)


def _attr(key: str, value: Any) -> bytes:
    return b"\x0a" + _key_value(key, value)[1:]  # a KeyValue as field 1 (Resource.attributes)


def sample_spans(count: int) -> list[ReadableSpan]:
    resource = Resource.create({"service.name": "bench"})
    scope = InstrumentationScope("genai_trace")
    question = '{"question":"What does OpenTelemetry\'s BatchSpanProcessor do with a full queue?"' \
        ',"top_k":3,"temperature":0.2}'  # fmt: skip
    answer = '{"answer":"It drops the span.","sources":[1,2,3],"score":0.92}'
    attributes = {
        "openinference.span.kind": "CHAIN",
        "input.value": question,
        "output.value": answer,
        "input.mime_type": "application/json",
        "output.mime_type": "application/json",
        "genai_trace.trace.state": "OK",
        "genai_trace.trace.span_count": 1,
        "genai_trace.trace.complete": True,
        "genai_trace.trace.request_preview": question,
        "genai_trace.trace.response_preview": answer,
    }
    spans = []
    for i in range(count):
        context = SpanContext(i + 1 << 64 | 7, i + 1, is_remote=False, trace_flags=TraceFlags(1))
        spans.append(
            ReadableSpan(
                name="answer",
                context=context,
                parent=None,
                resource=resource,
                attributes=dict(attributes),
                kind=SpanKind.INTERNAL,
                status=Status(StatusCode.OK),
                start_time=1_700_000_000_000_000_000 + i,
                end_time=1_700_000_000_000_050_000 + i,
                instrumentation_scope=scope,
            )
        )
    return spans


def _best_us(run: Any, spans: int, reps: int = 5) -> float:
    best = float("inf")
    for _ in range(reps):
        start = time.process_time()
        run()
        best = min(best, time.process_time() - start)
    return best / spans * 1e6


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 11_000
    spans = sample_spans(count)
    resource = spans[0].resource
    official = ExportTraceServiceRequest.FromString(encode_spans(spans).SerializeToString())
    mine = ExportTraceServiceRequest.FromString(encode(spans, resource))
    if official != mine:
        print("MISMATCH: the hand-written bytes decode differently", file=sys.stderr)
        return 1
    batch = 512  # the official BatchSpanProcessor's batch size
    chunks = [spans[i : i + batch] for i in range(0, count, batch)]
    official_us = _best_us(lambda: [encode_spans(c).SerializeToString() for c in chunks], count)
    mine_us = _best_us(lambda: [encode(c, resource) for c in chunks], count)
    print(f"{count} spans, 10 attributes each, batches of {batch}; decoded requests equal")
    print(f"official encode_spans + SerializeToString: {official_us:.1f} µs/span (best of 5)")
    print(f"hand-written writer:                         {mine_us:.1f} µs/span (best of 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
