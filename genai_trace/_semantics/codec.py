"""The one JSON encoder: orjson when installed, else the standard library.

Everything that writes or reads JSON text goes through here: span payloads
(:mod:`~genai_trace._semantics.capture` uses :data:`orjson` for its fast path), trace records
in the local store, the CLI's JSON output and :meth:`~genai_trace.Trace.to_json`. The shape of
a trace as plain data is the data model's (:func:`~genai_trace._semantics.model.trace_to_dict`).

Layer: the bottom of ``_semantics``; imports nothing of genai_trace, so every other module
may import it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

orjson: Any
"""The ``orjson`` module, or ``None`` where it is not installed (it is an optional extra)."""
try:
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None


def dumps(value: Any, *, default: Callable[[Any], Any], indent: int | None = None) -> str:
    """JSON text of ``value``, keeping non-ASCII characters as they are.

    Compact unless ``indent`` is given. ``default`` converts what JSON cannot hold (pass
    :func:`~genai_trace._semantics.capture.safe_repr` for text that never fails). A value
    orjson refuses (a key it cannot write, an int past 64 bits) takes the standard library.
    """
    if indent is None:
        encoded = _orjson_dumps(value, default)
        if encoded is not None:
            return encoded.decode()
    return _standard_dumps(value, default, indent)


def dumps_utf8(value: Any, *, default: Callable[[Any], Any]) -> bytes:
    """:func:`dumps` as UTF-8 bytes (orjson writes bytes: not decoded and encoded again).

    Raises ``UnicodeEncodeError`` for text UTF-8 cannot hold (a lone surrogate), as
    ``dumps(value).encode()`` does; its ``object`` is that text.
    """
    encoded = _orjson_dumps(value, default)
    return encoded if encoded is not None else _standard_dumps(value, default, None).encode()


def _orjson_dumps(value: Any, default: Callable[[Any], Any]) -> bytes | None:
    """Compact JSON as orjson writes it; ``None`` without orjson or where it refuses."""
    if orjson is None:
        return None
    try:
        encoded: bytes = orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS)
    except Exception:  # the standard library writes it, or says why it cannot
        return None
    return encoded


def _standard_dumps(value: Any, default: Callable[[Any], Any], indent: int | None) -> str:
    separators = (",", ":") if indent is None else None
    return json.dumps(
        value, default=default, ensure_ascii=False, indent=indent, separators=separators
    )


def loads(text: str | bytes) -> Any:
    """Parse JSON text."""
    return orjson.loads(text) if orjson is not None else json.loads(text)
