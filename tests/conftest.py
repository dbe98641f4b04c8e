from __future__ import annotations

import os

# Internal errors fail the test instead of being logged and hidden: in an app they are only
# logged once, so a test would pass over a broken hook without noticing.
os.environ["GENAI_TRACE_RAISE_INTERNAL_ERRORS"] = "1"

from collections.abc import Iterator

import pytest
from opentelemetry import trace as trace_api

import genai_trace
from genai_trace.exporters import InMemoryTraceExporter
from tests.helpers.app_processors import processors_of


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[InMemoryTraceExporter]:
    """Every test starts from a fresh configuration that exports to memory.

    A test must leave the global provider's processors as it found them
    (``tests.helpers.app_processors.added_processor``): one left behind changes the path
    every later test takes.
    """
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter])
    genai_trace.enable()
    before = processors_of(trace_api.get_tracer_provider())
    yield exporter
    genai_trace.flush(10)
    after = processors_of(trace_api.get_tracer_provider())
    assert after == before, "the test left a span processor on the global provider"


@pytest.fixture
def exporter(fresh_runtime: InMemoryTraceExporter) -> InMemoryTraceExporter:
    return fresh_runtime
