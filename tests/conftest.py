from __future__ import annotations

import os

# Internal errors fail the test instead of being logged and hidden: in an app they are only
# logged once, so a test would pass over a broken hook without noticing.
os.environ["GENAI_TRACE_RAISE_INTERNAL_ERRORS"] = "1"

from collections.abc import Iterator

import pytest

import genai_trace
from genai_trace.exporters import InMemoryTraceExporter


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[InMemoryTraceExporter]:
    """Every test starts from a fresh configuration that exports to memory."""
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter])
    genai_trace.enable()
    yield exporter
    genai_trace.flush(10)


@pytest.fixture
def exporter(fresh_runtime: InMemoryTraceExporter) -> InMemoryTraceExporter:
    return fresh_runtime
