"""Values to safe span text: serialize, truncate, decode. Pure functions, no OTel.

Every function here accepts anything (cycles, objects whose ``__repr__`` raises, NaN,
non-string keys, bytes, huge strings) and returns valid output without raising. Payloads
over the size cap are cut with their JSON structure kept and a marker saying how much went.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import enum
import json
import math
import uuid
from collections.abc import Mapping
from typing import Any

from genai_trace._semconv import MIME_JSON, MIME_TEXT

_orjson: Any
try:  # orjson is an optional extra; the standard library is the fallback.
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

MAX_DEPTH = 64
"""Nesting deeper than this is replaced by a marker (deep nesting is almost always a bug)."""

_PRIMITIVES = (str, int, float, bool, type(None))


def truncation_marker(cut: int, unit: str) -> str:
    """Return the marker left where ``cut`` ``unit`` (chars, items, keys) were removed."""
    return f"...[truncated {cut} {unit}]"


def safe_repr(value: object, limit: int = 1000) -> str:
    """Return ``repr(value)``, or a stand-in when ``__repr__`` raises; never raises."""
    try:
        text = repr(value)
    except Exception as exc:  # a hostile __repr__ must not reach the caller
        try:
            type_name = type(value).__qualname__
        except Exception:
            type_name = "object"
        text = f"<unrepresentable {type_name}: __repr__ raised {type(exc).__name__}>"
    if len(text) > limit:
        text = text[:limit] + truncation_marker(len(text) - limit, "chars")
    return text


def truncate_text(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, ending in a marker when cut."""
    if len(text) <= max_chars:
        return text
    marker = truncation_marker(len(text) - max_chars, "chars")
    # The marker counts against the budget, so the result never exceeds the cap.
    keep = max(0, max_chars - len(marker))
    marker = truncation_marker(len(text) - keep, "chars")
    return text[:keep] + marker


def to_text(value: object, max_chars: int) -> tuple[str, str]:
    """Serialize ``value`` for a span: ``(text, mime_type)``.

    Strings stay plain text (never JSON-quoted); everything else becomes JSON text.

    >>> to_text("hi", 100)
    ('hi', 'text/plain')
    >>> to_text({"a": [1, 2]}, 100)
    ('{"a":[1,2]}', 'application/json')
    """
    if type(value) is str:
        return truncate_text(value, max_chars), MIME_TEXT
    return to_json(value, max_chars), MIME_JSON


def to_json(value: object, max_chars: int) -> str:
    """Return ``value`` as compact JSON text of at most ``max_chars`` characters."""
    text = _fast_dumps(value)
    if text is None:
        text = _dumps(_to_safe(value, 0, set()))
    if len(text) <= max_chars:
        return text
    return _truncated_json(value, max_chars)


def from_text(text: object, mime_type: object) -> Any:
    """Decode what :func:`to_text` wrote back into a Python value."""
    if mime_type == MIME_JSON and isinstance(text, str):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def attribute_value(value: object, max_chars: int) -> Any:
    """Return ``value`` as a valid OTel attribute value.

    Primitives and homogeneous lists of primitives pass through; anything else becomes JSON
    text, so a user's dict still lands on the span instead of being dropped by the SDK.
    """
    if isinstance(value, str):
        return truncate_text(value, max_chars)
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, (list, tuple)) and value:
        first_type = type(value[0])
        if first_type in (str, bool, int, float) and all(type(v) is first_type for v in value):
            return list(value)
    return to_json(value, max_chars)


# --- JSON encoding -------------------------------------------------------------------


def _default(value: Any) -> Any:
    """Turn a value the encoder does not know into one it does (the encoder's fallback)."""
    if isinstance(value, (set, frozenset)):
        return list(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _bytes_to_text(bytes(value))
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (uuid.UUID, decimal.Decimal)):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    model_dump = getattr(value, "model_dump", None)  # pydantic v2
    if callable(model_dump):
        return model_dump(mode="json")
    as_dict = getattr(value, "dict", None)  # pydantic v1
    if callable(as_dict) and hasattr(value, "__fields__"):
        return as_dict()
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    return safe_repr(value)


def _bytes_to_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(data).decode("ascii")


if _orjson is not None:
    _ORJSON_OPTIONS = _orjson.OPT_NON_STR_KEYS | _orjson.OPT_SERIALIZE_NUMPY

    def _fast_dumps(value: object) -> str | None:
        try:
            encoded: bytes = _orjson.dumps(value, default=_default, option=_ORJSON_OPTIONS)
            return encoded.decode()
        except Exception:  # cycles, unsupported keys, a raising model_dump: take the slow path
            return None

else:  # pragma: no cover - exercised where orjson is absent

    def _fast_dumps(value: object) -> str | None:
        try:
            return json.dumps(
                value, default=_default, ensure_ascii=False, allow_nan=False, separators=(",", ":")
            )
        except Exception:
            return None


def _dumps(safe: object) -> str:
    return json.dumps(safe, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _safe_key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, (int, float, bool)) or key is None:
        return json.dumps(key)
    return safe_repr(key, limit=200)


def _to_safe(value: object, depth: int, active: set[int]) -> object:
    """Return a structure of dict/list/str/int/float/bool/None that ``json`` always encodes.

    ``active`` holds the ids of the containers on the current path, to detect cycles.
    """
    if isinstance(value, _PRIMITIVES):
        if isinstance(value, float) and not math.isfinite(value):
            return str(value)  # NaN and infinities are not JSON
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**63:
            return str(value)
        return value
    if depth >= MAX_DEPTH:
        return f"...[truncated: nesting deeper than {MAX_DEPTH}]"
    marker = id(value)
    if marker in active:
        return "...[cycle]"
    active.add(marker)
    try:
        if isinstance(value, Mapping):
            try:
                items = list(value.items())
            except Exception:
                return safe_repr(value)
            return {_safe_key(k): _to_safe(v, depth + 1, active) for k, v in items}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [_to_safe(v, depth + 1, active) for v in list(value)]
        try:
            converted = _default(value)
        except Exception:
            return safe_repr(value)
        if converted is value or isinstance(converted, str):
            return converted if isinstance(converted, str) else safe_repr(value)
        return _to_safe(converted, depth + 1, active)
    finally:
        active.discard(marker)


# --- structure-keeping truncation ----------------------------------------------------


def _truncated_json(value: object, max_chars: int) -> str:
    safe = _to_safe(value, 0, set())
    budget = max_chars
    # Shrinking the budget converges in a few rounds: each round re-fits with less room.
    for _ in range(8):
        text = _dumps(_fit(safe, budget))
        if len(text) <= max_chars:
            return text
        budget = int(budget * max_chars / len(text) * 0.9)
        if budget < 32:
            break
    total = len(_dumps(safe))
    return _dumps(truncation_marker(total, "chars of JSON"))[:max_chars]


def _size(value: object) -> int:
    return len(_dumps(value))


def _fit(value: object, budget: int) -> object:
    """Return ``value`` cut so that its JSON takes roughly ``budget`` characters."""
    if isinstance(value, str):
        return truncate_text(value, max(budget - 2, 16)) if len(value) + 2 > budget else value
    if isinstance(value, list):
        return _fit_list(value, budget)
    if isinstance(value, dict):
        return _fit_dict(value, budget)
    return value


def _fit_list(items: list[object], budget: int) -> list[object]:
    out: list[object] = []
    used = 2
    for index, item in enumerate(items):
        left = budget - used
        if left < 24:
            out.append(truncation_marker(len(items) - index, "items"))
            return out
        fitted = _fit(item, left)
        used += _size(fitted) + 1
        out.append(fitted)
    return out


def _fit_dict(mapping: dict[str, object], budget: int) -> dict[str, object]:
    out: dict[str, object] = {}
    used = 2
    keys = list(mapping)
    for index, key in enumerate(keys):
        left = budget - used - len(key) - 4
        if left < 24:
            out["..."] = truncation_marker(len(keys) - index, "keys")
            return out
        fitted = _fit(mapping[key], left)
        used += len(key) + 4 + _size(fitted)
        out[key] = fitted
    return out
