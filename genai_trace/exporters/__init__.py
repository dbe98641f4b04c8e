"""Trace exporters: where complete traces go."""

from __future__ import annotations

from genai_trace.exporters._base import ExportResult, TraceExporter
from genai_trace.exporters.memory import InMemoryTraceExporter

__all__ = ["ExportResult", "InMemoryTraceExporter", "TraceExporter"]
