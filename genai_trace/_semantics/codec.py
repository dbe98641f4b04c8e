"""The one JSON encoder: orjson when installed, else the standard library.

Everything that writes or reads JSON text goes through here: span payloads
(:mod:`~genai_trace._semantics.capture` uses :data:`orjson` for its fast path), trace records
in the local store, the CLI's JSON output and :meth:`~genai_trace.Trace.to_json`. The shape of
a trace as plain data is the data model's (:func:`~genai_trace._semantics.model.trace_to_dict`).

Layer: the bottom of ``_semantics``; imports nothing of genai_trace, so every other module
may import it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

orjson: Any
"""The ``orjson`` module, or ``None`` where it is not installed (it is an optional extra)."""
try:
    import orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    orjson = None


class RawJSON:
    """JSON text that :func:`dumps` writes as it is, in place of the value it encodes.

    For a payload kept as the compact JSON it was recorded as: written out again without
    being decoded and encoded. The text must be valid JSON.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def raw_json(text: str) -> Any:
    """``text`` (valid JSON) as :func:`dumps` writes it: as it is, in place of a value.

    With orjson, its own ``Fragment``, which it writes without calling back into Python;
    else a :class:`RawJSON`.
    """
    return RawJSON(text) if orjson is None else orjson.Fragment(text)


def dumps(value: Any, *, default: Callable[[Any], Any], indent: int | None = None) -> str:
    """JSON text of ``value``, keeping non-ASCII characters as they are.

    Compact unless ``indent`` is given. ``default`` converts what JSON cannot hold (pass
    :func:`~genai_trace._semantics.capture.safe_repr` for text that never fails). A value
    orjson refuses (a key it cannot write, an int past 64 bits) takes the standard library.
    A :class:`RawJSON` is written as its text.
    """
    if orjson is not None and indent is None:
        try:
            convert = _with_raw_json(default, orjson.Fragment)
            encoded: bytes = orjson.dumps(value, default=convert, option=orjson.OPT_NON_STR_KEYS)
            return encoded.decode()
        except Exception:  # the slow path writes it, or says why it cannot
            pass
    separators = (",", ":") if indent is None else None
    return json.dumps(
        value,
        default=_with_raw_json(default, json.loads),
        ensure_ascii=False,
        indent=indent,
        separators=separators,
    )


@functools.lru_cache(maxsize=32)
def _with_raw_json(
    default: Callable[[Any], Any], write_raw: Callable[[str], Any]
) -> Callable[[Any], Any]:
    """``default``, which first gives a :class:`RawJSON` as ``write_raw`` makes of its text."""

    def convert(value: Any) -> Any:
        if type(value) is RawJSON:
            return write_raw(value.text)
        if orjson is not None and type(value) is orjson.Fragment:  # on the standard library's
            return json.loads(orjson.dumps(value))  # path: the fragment's text, decoded
        return default(value)

    return convert


def loads(text: str | bytes) -> Any:
    """Parse JSON text."""
    return orjson.loads(text) if orjson is not None else json.loads(text)
