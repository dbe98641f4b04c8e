"""Values to safe span text: serialize, truncate, decode. Pure functions, no OTel.

Every function here accepts anything (cycles, objects whose ``__repr__`` raises, NaN,
non-string keys, bytes, huge strings, nesting thousands deep) and returns valid output
without raising. Payloads over the size cap are cut with their JSON structure kept and a
marker saying how much went.

Two encoders share the work. The fast path is orjson (or the standard library) over the
whole value; it handles the common case of small, well-formed payloads. Everything else
(odd values, cycles, deep nesting, payloads over the cap) goes through ``_Writer``, a
budgeted writer that converts and cuts in one pass. It stops as soon as the budget is
spent, so its cost follows the size of the output, not of the input.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import decimal
import enum
import json
import json.encoder
import math
import re
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any

from genai_trace._errors import log_internal_error
from genai_trace._semantics import redaction as _redact
from genai_trace._semantics.codec import orjson as _orjson
from genai_trace._semantics.semconv import (
    INPUT_MIME_TYPE,
    INPUT_VALUE,
    MIME_JSON,
    MIME_TEXT,
    OUTPUT_MIME_TYPE,
    OUTPUT_VALUE,
)

_WHOLE = 1 << 40  # a budget no payload reaches: "serialize it all"
MAX_DEPTH = 64
"""Nesting deeper than this is replaced by a marker (deep nesting is almost always a bug)."""

_TOO_DEEP = f"...[truncated: nesting deeper than {MAX_DEPTH}]"
_CYCLE = "...[cycle]"
_MAX_CONVERSIONS = 8
"""How many ``model_dump``/``tolist``-style conversions one value may go through."""
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1  # orjson's range: signed 64-bit below zero, unsigned above
_SEQUENCES = (list, tuple, set, frozenset, collections.deque)

# Quotes and escapes a str as JSON without calling any method a str subclass may override.
_quote: Callable[[str], str] = json.encoder.encode_basestring


_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT_CHAR = "\ufffd"


def clean_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (the replacement character).

    A lone surrogate (half an emoji, cut by a browser and decoded by ``json.loads``) is a
    valid ``str`` that no UTF-8 encoder accepts: SQLite and OTLP would refuse the whole
    value. ASCII text, the common case, is checked in constant time.
    """
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub(REPLACEMENT_CHAR, text)


def truncation_marker(cut: int, unit: str) -> str:
    """Return the marker left where ``cut`` ``unit`` (chars, items, keys) were removed.

    >>> truncation_marker(1200, "chars")
    '...[truncated 1200 chars]'
    """
    return f"...[truncated {cut} {unit}]"


def safe_repr(value: object, limit: int = 1000) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters, or a stand-in; never raises."""
    try:
        text = repr(value)
        if type(text) is not str:  # pragma: no cover - repr() enforces str already
            text = str.__str__(text)
    except Exception as exc:  # a hostile __repr__ must not reach the caller
        try:
            type_name = type(value).__qualname__
        except Exception:  # pragma: no cover - type() of anything has a __qualname__
            type_name = "object"
        text = f"<unrepresentable {type_name}: __repr__ raised {type(exc).__name__}>"
    return truncate_text(text, limit)


def truncate_text(text: str, max_chars: int) -> str:
    """Cut ``text`` to at most ``max_chars`` characters, ending in a marker when cut.

    The marker counts against the cap, so the result is never longer than ``max_chars``.
    Below the marker's own length only the start of the marker fits.

    >>> truncate_text("abcdefghij" * 5, 30)
    'abcdefg...[truncated 43 chars]'
    """
    if len(text) <= max_chars:
        return text
    max_chars = max(0, max_chars)
    keep = _keep_for(len(text), max_chars)
    if keep < 0:
        return truncation_marker(len(text), "chars")[:max_chars]
    return text[:keep] + truncation_marker(len(text) - keep, "chars")


def _keep_for(total: int, room: int) -> int:
    """The most of ``total`` characters that fit in ``room`` beside their marker (-1: none)."""
    keep = room - len(truncation_marker(total, "chars"))
    # Fewer characters cut than the first guess may mean a shorter count: use the room.
    while keep + 1 < total and keep + 1 + len(truncation_marker(total - keep - 1, "chars")) <= room:
        keep += 1
    return max(keep, -1)


def to_text(value: object, max_chars: int, *, redactor: _redact.Redactor | None) -> tuple[str, str]:
    """Serialize ``value`` for a span: ``(text, mime_type)``, redacted by ``redactor``.

    Strings (and ``str`` subclasses such as ``str`` enums) stay plain text, never
    JSON-quoted; everything else becomes JSON text. Never raises.

    >>> to_text("hi", 100, redactor=None)
    ('hi', 'text/plain')
    >>> to_text({"a": [1, 2]}, 100, redactor=None)
    ('{"a":[1,2]}', 'application/json')
    """
    if isinstance(value, str):
        text = clean_text(str.__str__(value))
        if redactor is not None:
            text = redactor.text(text)
        return truncate_text(text, max_chars), MIME_TEXT
    if redactor is None:
        return to_json(value, max_chars), MIME_JSON
    return _redacted_json(value, max_chars, redactor), MIME_JSON


class WaitingText(str):
    """Payload text recorded unredacted: its redaction waits for the trace's build.

    Only made while nothing but genai-trace's exporters can read the span (see
    ``TraceAssembler.redaction_room``). The type is the marker: the SDK keeps ``str``
    subclasses as they are, and the build (or the assembler, in place, if another span
    processor shows up before the span ends) redacts every value of this type and puts a
    plain ``str`` in its place.
    """

    __slots__ = ()


class WaitingJSON(WaitingText):
    """:class:`WaitingText` holding JSON: its ``application/json`` mime type waits with it.

    The build (or the assembler, in place) sets the mime type attribute as it redacts the
    value, so a waiting JSON payload costs the span one SDK attribute, not two.
    """

    __slots__ = ()


def payload_text(
    value: object, max_chars: int, wait_up_to: int, *, redactor: _redact.Redactor | None
) -> tuple[str, str | None]:
    """:func:`to_text`, leaving redaction to the build where the value allows it.

    The text is a :class:`WaitingText`, unredacted, only when it fits whole in
    ``min(max_chars, wait_up_to)`` (``wait_up_to=0``: never). A cut must never split a
    secret that the rules would then miss, so text that is cut (by us or by the SDK's
    attribute length limit) is redacted now.

    Returns ``(text, mime_type)``; the mime type is ``None`` when it waits too (a
    :class:`WaitingJSON`), and the caller then sets no mime type attribute.
    """
    room = max_chars if max_chars < wait_up_to else wait_up_to
    if room > 0:
        if isinstance(value, str):
            if len(value) <= room:
                return WaitingText(clean_text(str.__str__(value))), MIME_TEXT
        else:
            whole = _fast_dumps(value)
            if whole is not None and len(whole) <= room:
                return WaitingJSON(whole), None
    return to_text(value, max_chars, redactor=redactor)


_PAYLOADS = ((INPUT_VALUE, INPUT_MIME_TYPE), (OUTPUT_VALUE, OUTPUT_MIME_TYPE))
RECORDED_INPUT_JSON = 1
RECORDED_OUTPUT_JSON = 2
"""Bits of what :func:`redact_waiting` returns: that payload is still the JSON text its
value was recorded as (compact, whole), so decoding and encoding it again gives the text."""


def redact_waiting(
    attributes: dict[str, Any],
    redactor: _redact.Redactor | None,
    max_chars: int,
    *,
    known_clean: bool = False,
) -> int:
    """Redact, in ``attributes``, the payloads whose redaction waited (:class:`WaitingText`).

    ``redactor`` is the one in force now (``None``, redaction turned off since, means the
    defaults: a value recorded while it was on must not go out unredacted); the result is a
    plain ``str`` cut to ``max_chars`` (redaction can lengthen text). A waiting JSON payload's
    mime type is set; a waiting text's replaces the JSON type an earlier value left (a type
    the app set itself, such as ``text/markdown``, stays). ``known_clean``: the texts were
    found to need no redaction already (:meth:`Redactor.all_clean` over a whole batch).

    Returns which JSON payloads are left as recorded (:data:`RECORDED_INPUT_JSON`,
    :data:`RECORDED_OUTPUT_JSON`).
    """
    recorded = 0
    for bit, (value_key, mime_key) in enumerate(_PAYLOADS, 1):
        text = attributes.get(value_key)
        if isinstance(text, WaitingText):
            is_json = type(text) is WaitingJSON
            plain = str.__str__(text)
            if known_clean:
                redacted = plain if is_json else truncate_text(plain, max_chars)
            else:
                redacted = _redacted_now(plain, is_json, redactor, max_chars)
            attributes[value_key] = redacted
            if is_json:
                attributes[mime_key] = MIME_JSON
                if redacted is plain:
                    recorded |= bit
            elif attributes.get(mime_key) == MIME_JSON:  # ours, left by an earlier value
                attributes[mime_key] = MIME_TEXT
    return recorded


def _redacted_now(plain: str, is_json: bool, active: _redact.Redactor | None, limit: int) -> str:
    redactor = active or _redact.Redactor()
    if not is_json:
        return truncate_text(redactor.text(plain), limit)
    if not redactor.needs_structural_pass(plain):
        return plain
    try:
        decoded = json.loads(plain)
    except (ValueError, RecursionError):  # ours is whole JSON; anything else fails closed
        return to_json(_redact.REDACTOR_FAILED, limit)
    return to_json(redactor.structure(decoded), limit)


def _redacted_json(value: object, max_chars: int, redactor: _redact.Redactor) -> str:
    """JSON of ``value`` with secrets replaced before it is cut to size.

    Redacting after truncation could leave half a key behind, so the whole text is checked
    first; only text that may hold a secret takes the slower structural pass.
    """
    try:
        whole = _fast_dumps(value)
        if whole is None:
            whole = to_json(value, _WHOLE)
        if not redactor.needs_structural_pass(whole):
            return whole if len(whole) <= max_chars else to_json(value, max_chars)
        return to_json(redactor.structure(json.loads(whole)), max_chars)
    except Exception:
        log_internal_error("redacting a value")
        return to_json(_redact.REDACTOR_FAILED, max_chars)


def to_json(value: object, max_chars: int) -> str:
    """Return ``value`` as compact JSON text of at most ``max_chars`` characters.

    The result is always valid JSON when ``max_chars`` is at least 2 (below that nothing
    fits and the result is empty). Over the cap, dicts stay dicts and lists stay lists:
    what does not fit is replaced by a marker item, key or string suffix. Never raises.
    """
    fast: str | None = None
    try:
        fast = _fast_dumps(value)
        if fast is not None and len(fast) <= max_chars:
            return fast
        writer = _Writer()
        # Where the fast path wrote it all, it is known not to fit whole.
        if writer.value(value, max_chars, 0, strict=False, try_whole=fast is None) is not None:
            # orjson refuses lone surrogates; the writer keeps them, so they are replaced here.
            return clean_text("".join(writer.out))
    except Exception:  # RecursionError near the stack limit, a mutating container...
        pass
    total = f"{len(fast)} chars of JSON" if fast is not None else "JSON"
    marker = f"...[truncated {total}]"
    if max_chars < 2:
        return ""
    return '"' + marker[: max_chars - 2] + '"'


def from_text(text: object, mime_type: object) -> Any:
    """Decode what :func:`to_text` wrote back into a Python value.

    JSON text (``application/json``) is parsed; text that does not parse, and text of any
    other type, comes back unchanged. Never raises.
    """
    if not isinstance(text, str) or not isinstance(mime_type, str):
        return text
    if mime_type != MIME_JSON and mime_type.partition(";")[0].strip().lower() != MIME_JSON:
        return text
    if _orjson is not None:
        try:
            return _orjson.loads(text)
        except Exception:  # past orjson's nesting limit, or not JSON: the slow path decides
            pass
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # foreign spans may carry anything
        return text


def attribute_value(
    value: object, max_chars: int, key: str | None = None, *, redactor: _redact.Redactor | None
) -> Any:
    """Return ``value`` as a valid OTel attribute value of at most ``max_chars`` characters.

    Primitives and homogeneous lists of primitives pass through (``str``/``int``/``float``
    subclasses such as enums as their plain value); anything else becomes JSON text, so a
    user's dict still lands on the span instead of being dropped by the SDK. Ints outside
    64 bits become their digits, as OTLP cannot carry them. ``redactor`` (if any) replaces
    secrets first.
    """
    if redactor is not None and key is not None and redactor.secret_key(key):
        return _redact.REDACTED
    try:
        if isinstance(value, str):
            text = clean_text(str.__str__(value))
            if redactor is not None:
                text = redactor.text(text, key)
            return truncate_text(text, max_chars)
        if isinstance(value, bool):
            return value is True
        if isinstance(value, int):
            number = int.__int__(value)
            if -(2**63) <= number < 2**63:
                return number
            return truncate_text(_int_text(number), max_chars)
        if isinstance(value, float):
            return float.__float__(value)
        if isinstance(value, (list, tuple)) and value and _fits_as_list(value, max_chars):
            if isinstance(value[0], str):
                texts = [clean_text(str.__str__(v)) for v in value]
                return texts if redactor is None else [redactor.text(t, key) for t in texts]
            return list(value)
    except Exception:  # pragma: no cover - the checks above call no user code
        pass
    if redactor is not None:
        return _redacted_json(value, max_chars, redactor)
    return to_json(value, max_chars)


def _fits_as_list(values: list[Any] | tuple[Any, ...], max_chars: int) -> bool:
    first_type = type(values[0])
    if first_type not in (str, bool, int, float):
        return False
    if not all(type(v) is first_type for v in values):
        return False
    if first_type is str:
        return sum(len(v) + 3 for v in values) <= max_chars
    if first_type is int and not all(-(2**63) <= v < 2**63 for v in values):
        return False
    return len(values) * 2 <= max_chars


# --- fast path -----------------------------------------------------------------------


def _default(value: Any) -> Any:
    """Turn a value the encoder does not know into one it does (the encoder's fallback)."""
    if isinstance(value, (set, frozenset, collections.deque)):
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
    if isinstance(value, Mapping):
        return dict(value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name, None) for f in dataclasses.fields(value)}
    model_dump = getattr(value, "model_dump", None)  # pydantic v2
    if callable(model_dump):
        try:
            return model_dump(mode="json")
        except TypeError:  # a model_dump-alike without the mode argument
            return model_dump()
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
        except Exception:  # cycles, depth past 254, big ints, odd keys: take the slow path
            return None

else:  # pragma: no cover - exercised where orjson is absent

    def _fast_dumps(value: object) -> str | None:
        try:
            return clean_text(
                json.dumps(
                    value,
                    default=_default,
                    ensure_ascii=False,
                    allow_nan=False,
                    separators=(",", ":"),
                )
            )
        except Exception:  # includes RecursionError on deep nesting
            return None


# --- the budgeted writer -------------------------------------------------------------
#
# ``_Writer.value(value, budget, ...)`` appends JSON text of at most ``budget`` characters
# and returns ``(chars written, complete)``, or ``None`` with nothing appended when not even
# a marker fits. A container is first written whole ("strict": no cuts, stop at the first
# thing that does not fit); only if that fails is it written again with cuts, each item
# leaving room for the closing bracket and for the marker that stands in for the items
# after it. So work is linear in the output per level of nesting on the cut path, never in
# the input, and recursion is bounded by MAX_DEPTH.

_Written = tuple[int, bool]


class _Writer:
    __slots__ = ("active", "out")

    def __init__(self) -> None:
        self.out: list[str] = []
        self.active: set[int] = set()
        """Ids of the containers on the current path and of what conversions came from."""

    def value(
        self, value: object, budget: int, depth: int, strict: bool, try_whole: bool = True
    ) -> _Written | None:
        """Write ``value``; ``try_whole=False`` skips the strict attempt known to fail."""
        # Holding the objects whose ids are in ``active`` keeps a temporary (a model_dump
        # result) alive, so its id cannot be reused by another object meanwhile.
        holders: list[object] = []
        try:
            for _ in range(_MAX_CONVERSIONS):
                atom = _atom(value)
                if atom is not None:
                    return self._put(atom, budget)
                if isinstance(value, str):
                    return self._str(str.__str__(value), budget, strict)
                if isinstance(value, int):  # past orjson's range: its digits, as a string
                    return self._str(_int_text(int.__int__(value)), budget, strict)
                if id(value) in self.active:
                    return self._put(_quote(_CYCLE), budget)
                if isinstance(value, (Mapping, *_SEQUENCES)):
                    if depth >= MAX_DEPTH:
                        return self._put(_quote(_TOO_DEEP), budget)
                    self.active.add(id(value))
                    holders.append(value)
                    is_dict = isinstance(value, Mapping)
                    entries = _items(value) if isinstance(value, Mapping) else list(value)
                    if strict or try_whole:
                        written = self._container(entries, is_dict, budget, depth, strict=True)
                        if written is not None or strict:
                            return written
                    return self._container(entries, is_dict, budget, depth, strict=False)
                try:
                    converted = _default(value)
                except Exception:
                    converted = safe_repr(value)
                if converted is value:
                    break
                self.active.add(id(value))
                holders.append(value)
                value = converted
            return self._str(safe_repr(value), budget, strict)
        finally:
            for holder in holders:
                self.active.discard(id(holder))

    def _put(self, text: str, budget: int) -> _Written | None:
        if len(text) > budget:
            return None
        self.out.append(text)
        return len(text), True

    def _str(self, text: str, budget: int, strict: bool) -> _Written | None:
        if len(text) + 2 <= budget:  # escaping only ever lengthens, so only then can it fit
            quoted = _quote(text)
            if len(quoted) <= budget:
                self.out.append(quoted)
                return len(quoted), True
        if strict:
            return None
        quoted_cut = _cut_string(text, budget)
        if quoted_cut is None:
            return None
        self.out.append(quoted_cut)
        return len(quoted_cut), False

    def _container(
        self, entries: Collection[Any], is_dict: bool, budget: int, depth: int, strict: bool
    ) -> _Written | None:
        opening, closing = ("{", "}") if is_dict else ("[", "]")
        unit = "keys" if is_dict else "items"
        n = len(entries)
        if n == 0:
            return self._put(opening + closing, budget)
        start = len(self.out)
        self.out.append(opening)
        used = 2  # both brackets
        for index, entry in enumerate(entries):
            rest = n - index - 1
            reserve = 0 if strict or not rest else len(_marker_entry(rest, unit, is_dict, True))
            head = "," if index else ""
            item = entry
            if is_dict:
                key, item = entry
                head += _quote(_safe_key(key)) + ":"
            mark = len(self.out)
            self.out.append(head)
            room = budget - used - len(head) - reserve
            written = self.value(item, room, depth + 1, strict) if room > 0 else None
            if written is None:
                del self.out[mark:]
                marker = _marker_entry(n - index, unit, is_dict, index > 0)
                if strict or used + len(marker) > budget:  # only possible at the first item
                    del self.out[start:]
                    return None
                self.out.append(marker + closing)
                return used + len(marker), False
            size, complete = written
            used += len(head) + size
            if not complete:
                if rest:
                    marker = _marker_entry(rest, unit, is_dict, True)
                    self.out.append(marker)
                    used += len(marker)
                self.out.append(closing)
                return used, False
        self.out.append(closing)
        return used, True


def _marker_entry(count: int, unit: str, is_dict: bool, comma: bool) -> str:
    """The item (or ``"..."`` key) that stands in for ``count`` cut items or keys."""
    return (
        ("," if comma else "")
        + ('"...":' if is_dict else "")
        + _quote(truncation_marker(count, unit))
    )


def _cut_string(text: str, budget: int) -> str | None:
    """``text`` as a JSON string of at most ``budget`` chars, cut with a marker; or None."""
    keep = min(len(text) - 1, _keep_for(len(text), budget - 2))
    if keep < 0:
        return None
    quoted = _quote(text[:keep] + truncation_marker(len(text) - keep, "chars"))
    if len(quoted) <= budget:
        return quoted
    # Escapes in the kept part: the longest prefix that fits, found by bisection (the
    # length of prefix plus marker never shrinks as the prefix grows).
    low, high = 0, keep - 1
    while low <= high:
        middle = (low + high) // 2
        size = len(_quote(text[:middle])) + len(truncation_marker(len(text) - middle, "chars"))
        if size <= budget:
            low = middle + 1
        else:
            high = middle - 1
    if high < 0:
        return None
    return _quote(text[:high] + truncation_marker(len(text) - high, "chars"))


def _atom(value: object) -> str | None:
    """JSON text of ``None``, a bool, an int in orjson's range or a float; else ``None``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        number = int.__int__(value)
        return int.__repr__(number) if _INT_MIN <= number <= _INT_MAX else None
    if isinstance(value, float):
        real = float.__float__(value)
        return float.__repr__(real) if math.isfinite(real) else "null"  # as orjson does
    return None


def _int_text(number: int) -> str:
    try:
        return int.__repr__(number)
    except ValueError:  # past sys.get_int_max_str_digits()
        return f"<int of {number.bit_length()} bits>"


def _items(mapping: Mapping[Any, Any]) -> Collection[tuple[Any, Any]]:
    if isinstance(mapping, dict):
        return dict.items(mapping)  # a view: iterated as far as the budget goes, not copied
    try:
        return list(mapping.items())
    except Exception:
        return [("...", safe_repr(mapping))]


def _safe_key(key: object) -> str:
    """The JSON object key orjson would write for ``key`` (a repr where it has none)."""
    try:
        for _ in range(2):
            if isinstance(key, str):
                return str.__str__(key)
            if isinstance(key, int) and not isinstance(key, bool):
                return _int_text(int.__int__(key))
            atom = _atom(key)
            if atom is not None:
                return atom
            if isinstance(key, enum.Enum):
                key = key.value
                continue
            if isinstance(key, (datetime.date, datetime.time)):
                return key.isoformat()
            if isinstance(key, uuid.UUID):
                return str(key)
            break
    except Exception:
        pass
    return safe_repr(key, limit=200)
