"""Previews read off a payload's recorded JSON text equal those of its decoded value.

A span view whose payload is still the compact JSON it was recorded as gives the trace's
preview from the text when the text alone decides it (``*_preview_of_json``), without
decoding it; a record decodes. Both must say the same.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import genai_trace
from genai_trace._runtime.deferred import DeferredTrace
from genai_trace._semantics.capture import to_json
from genai_trace._semantics.facts import trace_info
from genai_trace._semantics.messages import (
    PREVIEW_MAX_CHARS,
    request_preview,
    request_preview_of_json,
    response_preview,
    response_preview_of_json,
)
from tests.exporters.test_otlp_views import Recorder

_KEYS = st.sampled_from(["role", "content", "choices", "output", "output_text", "message",
                         "messages", "q", "answer", "usage", "a"])  # fmt: skip
_SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=8)
_VALUES = st.recursive(
    _SCALARS | st.sampled_from(["user", "assistant"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)


def _recorded(value: Any) -> str:
    return to_json(value, 10**6)  # the JSON a payload is recorded as


@settings(max_examples=400)
@given(_VALUES)
def test_a_preview_read_off_the_text_is_the_decoded_values(value: Any) -> None:
    text = _recorded(value)
    decoded = json.loads(text)
    from_text = request_preview_of_json(text)
    assert from_text is None or from_text == request_preview(decoded)
    from_text = response_preview_of_json(text)
    assert from_text is None or from_text == response_preview(decoded)


@pytest.mark.parametrize(
    ("text", "from_request", "from_response"),
    [
        ('{"q":"why?","k":3}', '{"q":"why?","k":3}', '{"q":"why?","k":3}'),
        ("[1,2]", "[1,2]", "[1,2]"),
        ('{"q":"why?"}', None, None),  # one string: the string is the preview
        ('{"messages":[{"role":"user","content":"hi"}]}', None, None),
        ('{"choices":[],"n":1}', '{"choices":[],"n":1}', None),
        ('{"output_text":"x","n":1}', '{"output_text":"x","n":1}', None),
        ('"just text"', None, None),
        ("[" + ",".join(["1"] * PREVIEW_MAX_CHARS) + "]", None, None),  # too long: cut
    ],
)
def test_the_text_decides_only_where_it_can(
    text: str, from_request: str | None, from_response: str | None
) -> None:
    assert request_preview_of_json(text) == from_request
    assert response_preview_of_json(text) == from_response


_PAYLOADS = [
    ({"question": "What is OTLP?", "top_k": 3}, {"answer": "A protocol.", "score": 0.9}),
    ({"question": "only one string"}, {"answer": "only one string"}),
    ({"messages": [{"role": "user", "content": "hi"}]}, {"role": "assistant", "content": "yo"}),
    ([1, 2, 3], {"choices": [{"message": {"role": "assistant", "content": "c"}}], "n": 1}),
]


@pytest.mark.parametrize(("inputs", "outputs"), _PAYLOADS)
def test_a_traces_previews_from_its_views_equal_those_from_its_records(
    inputs: Any, outputs: Any
) -> None:
    recorder = Recorder()
    genai_trace.configure(exporters=[recorder])

    @genai_trace.trace
    def call(payload: Any) -> Any:
        return outputs

    call(inputs)
    genai_trace.flush()
    (trace,) = recorder.traces
    assert isinstance(trace, DeferredTrace)
    from_views = trace.view_info()
    records = trace.built().spans  # decoded payloads: previews computed from the values
    from_records = trace_info(records)
    assert (from_views.request_preview, from_views.response_preview) == (
        from_records.request_preview,
        from_records.response_preview,
    )
    assert from_views.request_preview is not None
