"""A trace's spans as the store keeps them: one compressed JSON array per trace.

Spans of one trace repeat each other (a retriever's output is the next span's input, the
root's output is the LLM's), and each span's ``inputs`` reappear in its ``input.value``
attribute. Compressed together, these copies cost almost nothing; compressed span by span,
each pays again. zlib (standard library) at level 1: higher levels save 4% more for a third
more CPU, and zstandard wins only with a trained dictionary (``bench/store_size.py``).

Layer: ``store``; imports ``_semantics`` only.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from genai_trace._semantics.capture import clean_text, safe_repr
from genai_trace._semantics.codec import dumps, loads

_LEVEL = 1
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


def pack_spans(spans: Sequence[dict[str, Any]]) -> bytes:
    """The stored form of a trace's spans (each as ``span_to_dict`` gives it).

    Keys at their default values are left out (an eighth of the bytes). Text under
    :data:`COMPRESS_FROM` bytes is kept as it is: zlib's fixed cost per call (about 10 µs)
    buys too little there. Text that UTF-8 cannot hold (a lone surrogate that got past
    capture, from another instrumentation) is stored with U+FFFD in its place: the trace is
    kept, not refused.
    """
    text = dumps([_without_defaults(span) for span in spans], default=safe_repr)
    try:
        encoded = text.encode()
    except UnicodeEncodeError:
        encoded = clean_text(text).encode()
    return zlib.compress(encoded, _LEVEL) if len(encoded) >= COMPRESS_FROM else encoded


COMPRESS_FROM = 1024
"""Packed JSON of this many bytes or more is compressed; a one-span trace seldom is."""


def unpack_spans(packed: bytes, trace_id: str) -> list[dict[str, Any]]:
    """The span dicts of :func:`pack_spans` (of the trace ``trace_id``), in the order packed.

    ``duration_ms`` is not among their keys: :func:`~genai_trace._semantics.model.span_from_dict`
    computes it.
    """
    text = packed if packed[:1] == b"[" else zlib.decompress(packed)  # zlib's first byte: 0x78
    stored: list[dict[str, Any]] = loads(text)
    return [
        {
            **dict.fromkeys(_NONE_BY_DEFAULT),
            "trace_id": trace_id,
            "events": [],
            "parent_is_remote": False,
            "kind": "INTERNAL",
            **span,
        }
        for span in stored
    ]


def _without_defaults(span: dict[str, Any]) -> dict[str, Any]:
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
    return kept
