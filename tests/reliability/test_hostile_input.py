"""Hostile input, property-based: every capture path takes anything and never raises.

Arbitrary nested values, huge strings, deep nesting, cycles, objects whose ``__repr__``,
``__eq__`` or ``__hash__`` raise, bytes, NaN and non-string keys go through each way a user
hands values to genai-trace. No exception reaches the caller, every recorded text is within
the size cap, JSON payloads are valid JSON, and a cut is marked.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genai_trace
from genai_trace import Trace, TraceClient
from genai_trace.testing import capture_traces

CAP = 2_000
"""max_payload_chars in these tests: small, so that cutting happens often."""
MARKER = "...[truncated"


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class RaisingEverything:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    def __hash__(self) -> int:
        raise RuntimeError("no hash")

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("no iter")

    def __len__(self) -> int:
        raise RuntimeError("no len")


class RaisingDict(dict[Any, Any]):
    def items(self) -> Any:
        raise RuntimeError("no items")

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("no iter")


class HashableButRaisingEq:
    def __hash__(self) -> int:
        return 1

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def deep(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def cyclic_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


def cyclic_dict() -> dict[str, Any]:
    value: dict[str, Any] = {"a": 1}
    value["self"] = {"parent": value}
    return value


ODD_VALUES: dict[str, Callable[[], Any]] = {
    "raising repr": RaisingRepr,
    "raising everything": RaisingEverything,
    "raising dict": lambda: RaisingDict(a=1),
    "raising eq": HashableButRaisingEq,
    "huge string": lambda: "x" * 200_000,
    "lone surrogate": lambda: "\ud800 lone surrogate",
    "bytes": lambda: b"\xff\x00" * 5_000,
    "nan": lambda: float("nan"),
    "inf": lambda: float("inf"),
    "huge int": lambda: 2**200,
    "deep nesting": lambda: deep(5_000),
    "cyclic list": cyclic_list,
    "cyclic dict": cyclic_dict,
    "raising key": lambda: {HashableButRaisingEq(): "raising key"},
    "odd keys": lambda: {(1, 2): "t", None: "n", 1.5: "f", float("nan"): "nan"},
    "frozenset": lambda: frozenset({1, "a"}),
    "set": lambda: {1, 2, 3},
}
# Made fresh per example (by name, so hypothesis never needs their repr).
odd = st.sampled_from(sorted(ODD_VALUES)).map(lambda name: ODD_VALUES[name]())
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=50)
    | st.text(alphabet=st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=5)
    | st.binary(max_size=50)
    | odd
)
keys = st.text(max_size=10) | st.integers() | st.none() | st.tuples(st.integers()) | st.floats()
values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=6)
        | st.tuples(children, children)
        | st.dictionaries(keys, children, max_size=6)
    ),
    max_leaves=25,
)

HYPOTHESIS = settings(
    max_examples=40,
    database=None,  # nothing written into the working tree
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@pytest.fixture(autouse=True)
def small_cap() -> None:
    genai_trace.configure(exporters=[], max_payload_chars=CAP)


# --- the capture paths ---------------------------------------------------------------------


@genai_trace.trace
def decorated(a: Any, *args: Any, b: Any = None, **kwargs: Any) -> Any:
    return a


def decorator_inputs_and_outputs(value: Any) -> None:
    decorated(value, value, b=value, extra=value)


def start_span_inputs(value: Any) -> None:
    with genai_trace.start_span("s", inputs=value):
        pass


def set_inputs_and_outputs(value: Any) -> None:
    with genai_trace.start_span("s") as span:
        span.set_inputs(value)
        span.set_outputs(value)


def set_attribute_and_attributes(value: Any) -> None:
    with genai_trace.start_span("s") as span:
        span.set_attribute("one", value)
        span.set_attributes({"two": value, "three": [value, value]})


def add_event(value: Any) -> None:
    with genai_trace.start_span("s") as span:
        span.add_event("e", {"value": value, "more": [value]})


def update_current_trace_metadata(value: Any) -> None:
    with genai_trace.start_span("s"):
        genai_trace.update_current_trace(metadata={"m": value, "n": [value]})


def update_current_trace_tags(value: Any) -> None:
    with genai_trace.start_span("s"):
        genai_trace.update_current_trace(tags={"t": value})


def context_metadata(value: Any) -> None:
    with genai_trace.context(metadata={"m": value}), genai_trace.start_span("s"):
        pass


def client_inputs_and_outputs(value: Any) -> None:
    client = TraceClient()
    root = client.start_trace("root", inputs=value, metadata={"m": value})
    child = client.start_span("child", trace_id=root.trace_id, parent_id=root.span_id, inputs=value)
    client.end_span(trace_id=child.trace_id, span_id=child.span_id, outputs=value)
    client.end_trace(trace_id=root.trace_id, outputs=value)


PATHS: list[Callable[[Any], None]] = [
    decorator_inputs_and_outputs,
    start_span_inputs,
    set_inputs_and_outputs,
    set_attribute_and_attributes,
    add_event,
    update_current_trace_metadata,
    context_metadata,
    client_inputs_and_outputs,
]
KNOWN_BROKEN: dict[Callable[[Any], None], str] = {
    update_current_trace_tags: "see test_tags_with_hostile_values",
}


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


def check_recorded(trace: Trace, *, metadata_checked: bool = True) -> None:
    """Valid JSON where JSON is recorded, every text within the cap."""
    if metadata_checked:
        json.loads(trace.to_json())
    for span in trace.spans:
        attributes = dict(span.attributes)
        for kind in ("input", "output"):
            text = attributes.get(f"{kind}.value")
            if text is None:
                continue
            assert isinstance(text, str) and len(text) <= CAP
            if attributes.get(f"{kind}.mime_type") == "application/json":
                json.loads(text)
        for event in span.events:
            for text in strings_in(dict(event.attributes)):
                assert len(text) <= CAP
        if not metadata_checked:
            attributes.pop("metadata", None)
        for text in strings_in(attributes):
            assert len(text) <= CAP
    if metadata_checked:
        for text in strings_in(dict(trace.info.metadata)):
            assert len(text) <= CAP


# Trace metadata goes through the same capture path as inputs: held to the cap too.
METADATA_PATHS: set[Callable[[Any], None]] = set()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__)
@HYPOTHESIS
@given(value=values)
def test_no_value_breaks_a_capture_path(
    path: Callable[[Any], None], value: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    if path in METADATA_PATHS:  # an internal error is logged and swallowed, as in production
        monkeypatch.setenv("GENAI_TRACE_RAISE_INTERNAL_ERRORS", "0")
    with capture_traces() as traces:
        path(value)  # no exception reaches the caller
    assert len(traces) == 1
    check_recorded(traces[0], metadata_checked=path not in METADATA_PATHS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.__name__)
def test_a_cut_is_marked_on_every_capture_path(path: Callable[[Any], None]) -> None:
    with capture_traces() as traces:
        path({"long": "y" * 200_000, "many": list(range(CAP))})
    (trace,) = traces
    check_recorded(trace, metadata_checked=path not in METADATA_PATHS)
    recorded = json.dumps(trace.to_dict(), default=str)
    assert MARKER in recorded


@pytest.mark.parametrize(
    "path",
    [update_current_trace_metadata, context_metadata, client_inputs_and_outputs],
    ids=lambda p: p.__name__,
)
def test_trace_metadata_is_held_to_the_cap(path: Callable[[Any], None]) -> None:
    with capture_traces() as traces:
        path({"long": "y" * (CAP * 10)})
    (trace,) = traces
    check_recorded(trace)


@pytest.mark.parametrize("odd_value", ["cyclic dict", "deep nesting", "odd keys"])
@pytest.mark.parametrize(
    "path", [update_current_trace_metadata, client_inputs_and_outputs], ids=lambda p: p.__name__
)
def test_odd_trace_metadata_is_recorded_not_lost(
    path: Callable[[Any], None], odd_value: str
) -> None:
    with capture_traces() as traces:
        path(ODD_VALUES[odd_value]())
    (trace,) = traces
    check_recorded(trace)
    assert "m" in trace.info.metadata


def test_tags_with_hostile_values() -> None:
    with capture_traces() as traces:
        update_current_trace_tags(RaisingEverything())
        update_current_trace_tags("t" * (CAP * 10))
    for trace in traces:
        check_recorded(trace)


# --- misuse: any value in any argument of the fluent API and GenAISpan ----------------------


RESULT = object()


@genai_trace.trace
def misused_everywhere(value: Any) -> object:
    """Every public fluent call and GenAISpan method, with ``value`` in every argument."""
    with (
        genai_trace.context(session_id=value, user_id=value, tags=value, metadata=value),
        genai_trace.start_span(value, span_type=value, inputs=value, attributes=value) as span,
    ):
        genai_trace.update_current_trace(
            request_preview=value,
            response_preview=value,
            tags=value,
            metadata=value,
            session_id=value,
            user_id=value,
            client_request_id=value,
        )
        span.set_token_usage(value, value, value)
        span.set_token_usage(input_tokens=value, output_tokens=3)
        span.set_status(value, value)
        span.set_span_type(value)
        span.set_attribute(value, value)
        span.set_attributes(value)
        span.add_event(value, value, value)
        span.record_exception(value)
        span.update_name(value)
        span.set_inputs(value)
        span.set_outputs(value)
        genai_trace.get_current_span().set_token_usage(total_tokens=value)
        genai_trace.inject(value)
        with genai_trace.extract(value), genai_trace.use_span(value):
            pass
    return RESULT


@HYPOTHESIS
@given(value=values)
def test_no_misuse_of_the_fluent_api_raises_or_changes_the_result(value: Any) -> None:
    with capture_traces() as traces:
        assert misused_everywhere(value) is RESULT  # and no exception reached the caller
    (trace,) = traces
    assert trace.root is not None and trace.root.name == "misused_everywhere"
    assert trace.info.state == "OK"


def test_nan_and_infinity_are_recorded_as_valid_json() -> None:
    with capture_traces() as traces:
        start_span_inputs({"nan": math.nan, "inf": math.inf, "-inf": -math.inf})
    (span,) = traces[0].spans
    text = dict(span.attributes)["input.value"]
    assert isinstance(text, str)
    assert json.loads(text) == {"nan": None, "inf": None, "-inf": None}


def test_an_attribute_key_whose_str_raises_is_recorded_by_its_stand_in() -> None:
    # Found by the property test above: start_span(attributes={key: ...}) called str(key).
    @genai_trace.trace
    def handler() -> str:
        with genai_trace.start_span("step", attributes={HashableButRaisingEq(): "x"}):
            return "done"

    with capture_traces() as traces:
        assert handler() == "done"
    step = next(span for span in traces[0].spans if span.name == "step")
    (key,) = [k for k, v in step.attributes.items() if v == "x"]
    assert "HashableButRaisingEq" in key
