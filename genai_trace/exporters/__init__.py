"""Trace exporters: where complete traces go.

The heavier ones (SQLite, OTLP with its HTTP and gRPC clients) are imported on first use,
so ``import genai_trace`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genai_trace.exporters._base import ExportResult, TraceExporter
from genai_trace.exporters.memory import InMemoryTraceExporter

if TYPE_CHECKING:
    from genai_trace.exporters.console import ConsoleTraceExporter
    from genai_trace.exporters.otlp import OTLPTraceExporter
    from genai_trace.store.writer import SQLiteTraceStore

# SQLiteTraceStore lives in genai_trace.store (a layer above: the store builds on the
# exporter contract); users still find every destination here, imported on first use.
_LAZY = {
    "ConsoleTraceExporter": "genai_trace.exporters.console",
    "OTLPTraceExporter": "genai_trace.exporters.otlp",
    "SQLiteTraceStore": "genai_trace.store.writer",
}

__all__ = [
    "ConsoleTraceExporter",
    "ExportResult",
    "InMemoryTraceExporter",
    "OTLPTraceExporter",
    "SQLiteTraceStore",
    "TraceExporter",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genai_trace.exporters' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
