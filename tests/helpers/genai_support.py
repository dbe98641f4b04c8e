"""What the autolog tests share: the instrumentations' environment, GenAI messages, spans.

Each test module turns on one official GenAI instrumentation against a real client and a
local server; these helpers keep their environment and their assertions alike.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import genai_trace
from genai_trace import SpanRecord, Trace

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"


@contextmanager
def instrumentation_env(*keys: str) -> Iterator[None]:
    """Clear the GenAI instrumentation variables (and ``keys``) for the block.

    Afterwards autolog is turned off and every variable is put back as it was.
    """
    saved = {key: os.environ.pop(key, None) for key in (CONTENT_ENV, OPT_IN_ENV, *keys)}
    try:
        yield
    finally:
        genai_trace.autolog(disable=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


def otel_message(role: str, text: str, **extra: Any) -> dict[str, Any]:
    """A message as the OpenTelemetry GenAI conventions record it."""
    return {"role": role, "parts": [{"content": text, "type": "text"}], **extra, "name": None}


def llm_span(trace: Trace) -> SpanRecord:
    """The trace's one span from a GenAI instrumentation."""
    (span,) = [s for s in trace.spans if s.attributes.get("gen_ai.operation.name")]
    return span


def assert_within(parent: SpanRecord, child: SpanRecord) -> None:
    """``child`` is a direct child of ``parent`` and ran inside its time."""
    assert child.parent_id == parent.span_id
    assert child.end_time_ns is not None and parent.end_time_ns is not None
    assert parent.start_time_ns <= child.start_time_ns <= child.end_time_ns <= parent.end_time_ns


def assert_child_of_root(trace: Trace, span: SpanRecord) -> None:
    assert_within(trace.root, span)
