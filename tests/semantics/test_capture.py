"""Serialization, truncation and decoding of captured values (``_semantics.capture``)."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import math
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genai_trace._semantics import capture as _capture
from genai_trace._semantics.capture import (
    MAX_DEPTH,
    from_text,
    safe_repr,
    to_json,
    truncate_text,
    truncation_marker,
)


# Serialization on its own here: no redactor; redaction has its own tests (test_redaction.py).
def to_text(value: object, max_chars: int) -> tuple[str, str]:
    return _capture.to_text(value, max_chars, redactor=None)


def attribute_value(value: object, max_chars: int, key: str | None = None) -> Any:
    return _capture.attribute_value(value, max_chars, key, redactor=None)


MARKER = "...[truncated"
_MARKER_COUNT = re.compile(r"\.\.\.\[truncated (\d+) (chars|items|keys)\]$")
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# --- odd values --------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = 2


class Level(str, enum.Enum):
    HIGH = "high"


@dataclasses.dataclass
class Point:
    x: int
    y: list[int]


class ModelLike:
    """Quacks like a pydantic v2 model."""

    def __init__(self, name: str) -> None:
        self.name = name

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"name": self.name, "mode": mode}


class ModelDumpWithoutMode:
    def model_dump(self) -> dict[str, Any]:
        return {"plain": True}


class ArrayLike:
    """Quacks like a numpy array."""

    def __init__(self, rows: list[list[float]]) -> None:
        self.rows = rows

    def tolist(self) -> list[list[float]]:
        return self.rows


class Hostile:
    """Every dunder that a serializer might call raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")


class HostileKey:
    """Hashable, but ``__repr__``, ``__str__`` and ``__eq__`` raise."""

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        return object.__hash__(self)


class RaisingModelDump:
    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        raise ValueError("broken model")

    def __repr__(self) -> str:
        return "RaisingModelDump()"


class SelfDumping:
    """``model_dump`` hands back a structure that contains the object again."""

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        return {"me": self}


class Plain:
    __slots__ = ()

    def __repr__(self) -> str:
        return "Plain()"


class HostileStr(str):
    """A str subclass whose methods lie or raise."""

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")


ODD_VALUES: list[tuple[str, object, object]] = [
    # (id, value, what its JSON decodes to)
    ("enum", Color.RED, "red"),
    ("int enum value", Color.BLUE, 2),
    ("str enum", Level.HIGH, "high"),
    ("datetime", datetime.datetime(2024, 5, 1, 12, 30, 0, 5), "2024-05-01T12:30:00.000005"),
    (
        "aware datetime",
        datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc),
        "2024-05-01T00:00:00+00:00",
    ),
    ("date", datetime.date(2024, 5, 1), "2024-05-01"),
    ("time", datetime.time(8, 15), "08:15:00"),
    ("timedelta", datetime.timedelta(minutes=1, milliseconds=500), 60.5),
    ("uuid", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ("decimal", decimal.Decimal("1.10"), "1.10"),
    ("utf-8 bytes", "héllo".encode(), "héllo"),
    ("binary bytes", b"\xff\x00\x01", "base64:/wAB"),
    ("bytearray", bytearray(b"abc"), "abc"),
    ("set", {3}, [3]),
    ("frozenset", frozenset({"a"}), ["a"]),
    ("tuple", (1, "a"), [1, "a"]),
    ("dataclass", Point(1, [2, 3]), {"x": 1, "y": [2, 3]}),
    ("pydantic-like", ModelLike("m"), {"name": "m", "mode": "json"}),
    ("model_dump without mode", ModelDumpWithoutMode(), {"plain": True}),
    ("numpy-like", ArrayLike([[1.0, 2.5]]), [[1.0, 2.5]]),
    ("nan", math.nan, None),
    ("inf", [math.inf, -math.inf], [None, None]),
    ("int at the signed 64-bit floor", -(2**63), -(2**63)),
    ("int at the unsigned 64-bit ceiling", 2**64 - 1, 2**64 - 1),
    ("int past 64 bits", 2**64, str(2**64)),
    ("negative int past 64 bits", -(2**63) - 1, str(-(2**63) - 1)),
    ("int past the str digit limit", 10**5000, "<int of 16610 bits>"),
    ("tuple key", {(1, 2): "v"}, {"(1, 2)": "v"}),
    (
        "int, float, bool and None keys",
        {2: "a", 1.5: "b", True: "c", None: "d"},
        {"2": "a", "1.5": "b", "true": "c", "null": "d"},
    ),
    ("enum key", {Color.RED: 1}, {"red": 1}),
    ("date key", {datetime.date(2024, 1, 2): 1}, {"2024-01-02": 1}),
    ("object key", {Plain(): 1}, {"Plain()": 1}),
    (
        "hostile key",
        {HostileKey(): 1},
        {"<unrepresentable HostileKey: __repr__ raised RuntimeError>": 1},
    ),
    ("hostile value", [Hostile()], ["<unrepresentable Hostile: __repr__ raised RuntimeError>"]),
    ("raising model_dump", RaisingModelDump(), "RaisingModelDump()"),
    ("self-dumping model", SelfDumping(), {"me": "...[cycle]"}),
    ("hostile str subclass", [HostileStr("text")], ["text"]),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(value, expected, id=name) for name, value, expected in ODD_VALUES],
)
@pytest.mark.parametrize("path", ["fast", "slow"])
def test_odd_values_serialize_to_json(
    value: object, expected: object, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path == "slow":
        monkeypatch.setattr(_capture, "_fast_dumps", lambda value: None)
    text = to_json(value, 100_000)
    assert json.loads(text) == expected


def test_a_list_that_contains_itself_is_cut_at_the_cycle() -> None:
    items: list[object] = [1]
    items.append(items)
    assert to_json(items, 1000) == '[1,"...[cycle]"]'


def test_a_dict_that_contains_itself_is_cut_at_the_cycle() -> None:
    mapping: dict[str, object] = {"a": 1}
    mapping["self"] = mapping
    mapping["list"] = [mapping]
    assert json.loads(to_json(mapping, 1000)) == {
        "a": 1,
        "self": "...[cycle]",
        "list": ["...[cycle]"],
    }


def test_a_shared_value_that_is_not_a_cycle_appears_each_time() -> None:
    shared = [1, 2]
    assert to_json({"a": shared, "b": shared}, 1000) == '{"a":[1,2],"b":[1,2]}'


def test_a_dataclass_cycle_is_cut() -> None:
    @dataclasses.dataclass
    class Node:
        name: str
        next: object = None

    node = Node("a")
    node.next = node
    assert json.loads(to_json(node, 1000)) == {"name": "a", "next": "...[cycle]"}


def test_a_mapping_that_is_not_a_dict_is_an_object() -> None:
    import types

    assert to_json(types.MappingProxyType({"a": 1}), 100) == '{"a":1}'


def test_a_mapping_whose_items_raise_becomes_its_repr() -> None:
    class BrokenMapping(Mapping[str, int]):
        def __getitem__(self, key: str) -> int:
            raise RuntimeError("getitem")

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("iter")

        def __len__(self) -> int:
            return 1

        def __repr__(self) -> str:
            return "BrokenMapping()"

    assert to_json([BrokenMapping()], 100) == '[{"...":"BrokenMapping()"}]'


def test_strings_stay_plain_text_never_json_quoted() -> None:
    assert to_text('say "hi"\n', 100) == ('say "hi"\n', "text/plain")
    assert to_text(Level.HIGH, 100) == ("high", "text/plain")
    assert type(to_text(Level.HIGH, 100)[0]) is str
    assert to_text(HostileStr("x"), 100) == ("x", "text/plain")


def test_everything_else_is_json() -> None:
    assert to_text(None, 100) == ("null", "application/json")
    assert to_text(1.5, 100) == ("1.5", "application/json")
    assert to_text(["a"], 100) == ('["a"]', "application/json")
    assert to_text(b"raw", 100) == ('"raw"', "application/json")


# --- truncation --------------------------------------------------------------------------


def test_a_long_string_is_cut_with_a_marker_that_counts_the_cut() -> None:
    text, mime = to_text("x" * 1000, 100)
    assert mime == "text/plain"
    assert len(text) == 100
    assert text == "x" * 76 + "...[truncated 924 chars]"


def test_a_long_string_inside_json_keeps_valid_json() -> None:
    text = to_json({"prompt": "é\n" * 500}, 100)
    assert len(text) <= 100
    decoded = json.loads(text)
    assert list(decoded) == ["prompt"]
    kept, cut = _split_marker(decoded["prompt"])
    assert kept == ("é\n" * 500)[: len(kept)]
    assert len(kept) + cut == 1000


def test_a_long_list_keeps_its_first_items_and_counts_the_rest() -> None:
    assert to_json(list(range(100)), 64) == (
        '[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,"...[truncated 85 items]"]'
    )


def test_a_big_dict_keeps_its_first_keys_and_counts_the_rest() -> None:
    value = {f"k{i}": "v" * i for i in range(50)}
    assert to_json(value, 100) == (
        '{"k0":"","k1":"v","k2":"vv","k3":"vvv","k4":"vvvv","k5":"vvvvv",'
        '"...":"...[truncated 44 keys]"}'
    )


def test_nested_truncation_keeps_the_outer_structure() -> None:
    value = {"messages": [{"role": "user", "content": "q" * 500}], "model": "gpt"}
    assert to_json(value, 120) == (
        '{"messages":[{"role":"user","content":"qqqqqqqqqqqqqqqqqqqqqqq...[truncated 477 chars]"}]'
        ',"...":"...[truncated 1 keys]"}'
    )


def test_an_item_too_big_for_the_cap_leaves_a_marker() -> None:
    # Too little room for even the dict's own marker: the list's marker counts it too.
    assert to_json([{"k" * 200: 1}, 2], 40) == '["...[truncated 2 items]"]'
    # Room for the dict's marker: it stays a dict; the items after it are counted.
    assert to_json([{"k" * 200: 1}, 2], 60) == (
        '[{"...":"...[truncated 1 keys]"},"...[truncated 1 items]"]'
    )


@pytest.mark.parametrize("max_chars", range(2, 80))
def test_every_cap_from_two_up_gives_valid_json_within_the_cap(max_chars: int) -> None:
    values: list[object] = [
        list(range(100)),
        {f"key{i}": "v" * i for i in range(30)},
        "s" * 200,
        [[["deep" * 20]]],
        10**100,
    ]
    for value in values:
        text = to_json(value, max_chars)
        assert len(text) <= max_chars
        json.loads(text)


@pytest.mark.parametrize("max_chars", [-5, 0, 1])
def test_a_cap_below_two_chars_gives_empty_text(max_chars: int) -> None:
    assert to_json([1, 2, 3], max_chars) == ""
    assert to_json([], max_chars) == ""


def test_truncate_text_fills_the_cap_exactly_whatever_the_counts_digits() -> None:
    # 105 chars into 98: cutting 7 chars needs a 1-digit count, the real cut is 30.
    for length in (105, 1000, 10_001, 100_000):
        for max_chars in (30, 98, 99, 100, 101):
            text = truncate_text("a" * length, max_chars)
            kept, cut = _split_marker(text)
            assert len(text) == max_chars
            assert len(kept) + cut == length


def test_truncate_text_below_the_markers_length_keeps_the_markers_start() -> None:
    assert truncate_text("a" * 100, 8) == "...[trun"
    assert truncate_text("a" * 100, 0) == ""
    assert truncate_text("a" * 100, -1) == ""
    assert truncate_text("short", 5) == "short"


@PROPERTY
@given(text=st.text(max_size=300), max_chars=st.integers(min_value=0, max_value=320))
def test_truncate_text_property(text: str, max_chars: int) -> None:
    out = truncate_text(text, max_chars)
    assert len(out) <= max_chars
    if len(text) <= max_chars:
        assert out == text
    elif max_chars >= len(truncation_marker(len(text), "chars")):
        kept, cut = _split_marker(out)
        assert text.startswith(kept)
        assert len(kept) + cut == len(text)


def test_safe_repr_stands_in_for_a_raising_repr_and_caps_its_length() -> None:
    assert safe_repr(Hostile()) == "<unrepresentable Hostile: __repr__ raised RuntimeError>"
    assert safe_repr("x" * 5000, limit=50) == "'xxxxxxxxxxxxxxxxxxxxxxxx...[truncated 4977 chars]"
    assert len(safe_repr(list(range(1000)), limit=100)) == 100


# --- deep nesting and size ---------------------------------------------------------------


def _nested_lists(depth: int) -> list[object]:
    root: list[object] = []
    current = root
    for _ in range(depth):
        child: list[object] = []
        current.append(child)
        current = child
    return root


def _nested_dicts(depth: int) -> dict[str, object]:
    root: dict[str, object] = {}
    current = root
    for _ in range(depth):
        child: dict[str, object] = {}
        current["a"] = child
        current = child
    return root


def _depth_of(decoded: object) -> tuple[int, object]:
    """How many containers deep ``decoded`` goes along its first items, and the leaf."""
    depth = 0
    while isinstance(decoded, (list, dict)) and decoded:
        decoded = next(iter(decoded.values())) if isinstance(decoded, dict) else decoded[0]
        depth += 1
    return depth, decoded


TOO_DEEP = f"...[truncated: nesting deeper than {MAX_DEPTH}]"


@pytest.mark.parametrize(
    ("build", "depth", "expected"),
    [
        # Within orjson's 254 levels the fast path writes what fits the cap whole.
        pytest.param(_nested_lists, 200, (200, []), id="list 200 deep"),
        pytest.param(_nested_lists, 5000, (MAX_DEPTH, TOO_DEEP), id="list 5000 deep"),
        pytest.param(_nested_dicts, 100_000, (MAX_DEPTH, TOO_DEEP), id="dict 100000 deep"),
    ],
)
def test_deep_nesting_is_cut_at_max_depth_without_recursion_error(
    build: Callable[[int], object], depth: int, expected: tuple[int, object]
) -> None:
    value = build(depth)
    assert _depth_of(json.loads(to_json(value, 100_000))) == expected
    small = to_json(value, 100)
    assert len(small) <= 100
    json.loads(small)
    assert to_text(value, 100)[0] == small


def test_nesting_deeper_than_max_depth_over_the_cap_keeps_the_depth_marker() -> None:
    text = to_json(_nested_lists(300), 1000)
    assert _depth_of(json.loads(text)) == (MAX_DEPTH, TOO_DEEP)


def test_serializing_with_little_stack_left_does_not_raise() -> None:
    value = _nested_lists(5000)

    def at_depth(frames_left: int) -> str:
        if frames_left <= 0:
            return to_json(value, 500)
        return at_depth(frames_left - 1)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        text = at_depth(150)
    finally:
        sys.setrecursionlimit(limit)
    assert len(text) <= 500
    json.loads(text)


def test_from_text_of_deeply_nested_json_returns_the_text() -> None:
    text = "[" * 100_000 + "]" * 100_000
    assert from_text(text, "application/json") == text


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("x" * 1_000_000, id="1 MB string"),
        pytest.param("\x00" * 1_000_000, id="1 MB of escapes"),
        pytest.param([{"id": i, "text": "abc"} for i in range(100_000)], id="100k small dicts"),
        pytest.param({f"k{i}": [i, {i}] for i in range(100_000)}, id="100k keys, slow path"),
        pytest.param([10**30] * 100_000, id="100k big ints, slow path"),
    ],
)
@pytest.mark.parametrize("max_chars", [1_000, 100_000])
def test_truncating_large_payloads_is_fast(value: object, max_chars: int) -> None:
    started = time.perf_counter()
    text = to_json(value, max_chars)
    elapsed = time.perf_counter() - started
    assert len(text) <= max_chars
    assert max_chars - 100 <= len(text)  # the cap is used, not wasted
    json.loads(text)
    assert elapsed < 0.5


# --- properties --------------------------------------------------------------------------

_leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.binary(max_size=20)
    | st.datetimes()
    | st.sampled_from([Color.RED, Level.HIGH, Plain(), decimal.Decimal("2.5")])
    | st.builds(Hostile)
    | st.builds(Point, st.integers(), st.lists(st.integers(), max_size=3))
    | st.builds(ModelLike, st.text(max_size=10))
    | st.builds(ArrayLike, st.lists(st.lists(st.floats(), max_size=3), max_size=3))
)
_keys = (
    st.text(max_size=10)
    | st.integers()
    | st.tuples(st.integers(), st.text(max_size=3))
    | st.sampled_from([Color.RED, None, True, Plain()])
    | st.builds(HostileKey)
)
values = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=8)
        | st.tuples(children, children)
        | st.dictionaries(_keys, children, max_size=8)
        | st.frozensets(st.integers(), max_size=5)
    ),
    max_leaves=40,
)


@PROPERTY
@given(value=values, max_chars=st.integers(min_value=2, max_value=600))
def test_any_value_gives_valid_json_within_the_cap(value: object, max_chars: int) -> None:
    full = to_json(value, 10**9)
    text = to_json(value, max_chars)
    assert len(text) <= max_chars
    json.loads(full)
    json.loads(text)
    if len(full) <= max_chars:
        assert text == full
    if max_chars >= 64:  # room for a marker: present exactly when something was cut
        assert (MARKER in text) == (len(full) > max_chars)


@PROPERTY
@given(value=values, max_chars=st.integers(min_value=64, max_value=600))
def test_truncation_keeps_the_top_level_structure(value: object, max_chars: int) -> None:
    full = json.loads(to_json(value, 10**9))
    cut = json.loads(to_json(value, max_chars))
    assert type(cut) is type(full)
    if isinstance(full, list) and isinstance(cut, list) and cut != full:
        kept = len(cut) - 1 if _is_marker(cut[-1], "items") else len(cut)
        if kept < len(full):
            assert _split_marker(cut[-1]) == ("", len(full) - kept)


@PROPERTY
@given(value=values)
def test_fast_and_slow_paths_agree(value: object) -> None:
    fast = _capture._fast_dumps(value)
    writer = _capture._Writer()
    assert writer.value(value, 10**9, 0, strict=False) is not None
    if fast is not None:
        assert json.loads(fast) == json.loads("".join(writer.out))


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@PROPERTY
@given(value=_json_values)
def test_from_text_round_trips_what_to_text_wrote(value: object) -> None:
    assert from_text(*to_text(value, 10**9)) == value


@pytest.mark.parametrize(
    ("text", "mime_type", "expected"),
    [
        ('{"a":1}', "application/json", {"a": 1}),
        ('{"a":1}', "application/json; charset=utf-8", {"a": 1}),
        ('{"a":1}', "text/plain", '{"a":1}'),
        ('{"a":1}', None, '{"a":1}'),
        ("not json", "application/json", "not json"),
        (42, "application/json", 42),
        (None, None, None),
        ("[1]", 7, "[1]"),
    ],
)
def test_from_text(text: object, mime_type: object, expected: object) -> None:
    assert from_text(text, mime_type) == expected


# --- attribute values --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", "text"),
        (Level.HIGH, "high"),
        (True, True),
        (3, 3),
        (Color.BLUE, "2"),  # a plain Enum is not an attribute type: its value as JSON
        (Color.RED, '"red"'),
        (1.5, 1.5),
        (["a", "b"], ["a", "b"]),
        ((1, 2), [1, 2]),
        ([1, True], "[1,true]"),  # mixed types are not a valid attribute list
        ([], "[]"),
        ({"a": 1}, '{"a":1}'),
        (None, "null"),
        (2**64, "18446744073709551616"),  # OTLP carries signed 64-bit ints only
        ([2**64], '["18446744073709551616"]'),
        (b"bytes", '"bytes"'),
    ],
)
def test_attribute_value(value: object, expected: object) -> None:
    result = attribute_value(value, 100)
    assert result == expected
    assert type(result) is type(expected)


def test_attribute_value_caps_strings_and_string_lists() -> None:
    assert attribute_value("x" * 500, 100) == "x" * 76 + "...[truncated 424 chars]"
    many = ["x" * 50] * 10
    capped = attribute_value(many, 100)
    assert isinstance(capped, str)
    assert len(capped) <= 100
    assert json.loads(capped)[-1] == "...[truncated 9 items]"


# --- helpers -----------------------------------------------------------------------------


def _split_marker(text: str) -> tuple[str, int]:
    match = _MARKER_COUNT.search(text)
    assert match is not None, text
    return text[: match.start()], int(match.group(1))


def _is_marker(item: object, unit: str) -> bool:
    return (
        isinstance(item, str)
        and item.startswith(MARKER)
        and bool(_MARKER_COUNT.fullmatch(item))
        and item.endswith(f"{unit}]")
    )
