"""Traces to JSON-ready dicts and back, for the local store, the CLI and exports.

Generic over the dataclass fields of the model, so a field added to :mod:`_model` travels
without touching this module.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from genai_trace._semantics.capture import safe_repr
from genai_trace._semantics.model import SpanEvent, SpanRecord, TokenUsage, Trace, TraceInfo

T = TypeVar("T")

_orjson: Any
try:
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_NON_STR_KEYS
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

# Fields copied as they are; the structured ones are converted by hand below (far cheaper
# than dataclasses.asdict, which deep-copies every value).
_STRUCTURED = {"tags", "metadata", "token_usage", "inputs", "outputs", "attributes", "events"}
_INFO_FIELDS = tuple(f.name for f in dataclasses.fields(TraceInfo) if f.name not in _STRUCTURED)
_SPAN_FIELDS = tuple(f.name for f in dataclasses.fields(SpanRecord) if f.name not in _STRUCTURED)


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """``{"info": {...}, "spans": [{...}, ...]}`` with plain JSON types only."""
    return {"info": info_to_dict(trace.info), "spans": [span_to_dict(s) for s in trace.spans]}


def info_to_dict(info: TraceInfo) -> dict[str, Any]:
    """A ``TraceInfo`` as plain data (``duration_ms`` included for readers)."""
    data = {name: getattr(info, name) for name in _INFO_FIELDS}
    data["tags"] = dict(info.tags)
    data["metadata"] = dict(info.metadata)
    data["token_usage"] = _usage_dict(info.token_usage)
    data["duration_ms"] = info.duration_ms
    return data


def span_to_dict(span: SpanRecord) -> dict[str, Any]:
    """A ``SpanRecord`` as plain data."""
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
    data["token_usage"] = _usage_dict(span.token_usage)
    data["duration_ms"] = span.duration_ms
    return data


def _usage_dict(usage: TokenUsage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def trace_from_dict(data: Mapping[str, Any]) -> Trace:
    """Rebuild a :class:`Trace` from :func:`trace_to_dict` output."""
    return Trace(
        info=info_from_dict(data["info"]),
        spans=tuple(span_from_dict(s) for s in data.get("spans", ())),
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


def dumps(value: Any) -> str:
    """Compact JSON that never fails (odd values become their repr)."""
    if _orjson is not None:
        try:
            encoded: bytes = _orjson.dumps(value, default=safe_repr, option=_ORJSON_OPTIONS)
            return encoded.decode()
        except Exception:  # a key orjson refuses, an int past 64 bits: the slow path says it
            pass
    return json.dumps(value, default=safe_repr, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """Parse JSON text (orjson when installed)."""
    return _orjson.loads(text) if _orjson is not None else json.loads(text)


def _known_fields(cls: type[Any], data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _usage(value: Any) -> TokenUsage | None:
    if isinstance(value, TokenUsage) or value is None:
        return value
    return TokenUsage(**_known_fields(TokenUsage, value))
