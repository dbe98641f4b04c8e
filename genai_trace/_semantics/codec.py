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
    if orjson is not None and indent is None:
        try:
            encoded: bytes = orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS)
            return encoded.decode()
        except Exception:  # the slow path writes it, or says why it cannot
            pass
    separators = (",", ":") if indent is None else None
    return json.dumps(
        value,
        default=default,
        ensure_ascii=False,
        indent=indent,
        separators=separators,
    )


def dumps_utf8(value: Any, *, default: Callable[[Any], Any]) -> bytes:
    """:func:`dumps` as UTF-8 bytes (orjson writes bytes: not decoded and encoded again).

    Raises ``UnicodeEncodeError`` for text UTF-8 cannot hold (a lone surrogate), as
    ``dumps(value).encode()`` does.
    """
    if orjson is not None:
        try:
            encoded: bytes = orjson.dumps(value, default=default, option=orjson.OPT_NON_STR_KEYS)
            return encoded
        except Exception:  # the slow path writes it, or says why it cannot
            pass
    return dumps(value, default=default).encode()


def loads(text: str | bytes) -> Any:
    """Parse JSON text."""
    return orjson.loads(text) if orjson is not None else json.loads(text)
