"""The local trace store: one SQLite file, the zero-config default destination.

- :mod:`~genai_trace.store.schema`: the file. Its one default path, its tables, how a
  connection is opened (the writer's, and the read-only one every reader uses), the
  :class:`TraceStoreError` a reader gets.
- :mod:`~genai_trace.store.writer`: :class:`SQLiteTraceStore`, the exporter that writes it.
- :mod:`~genai_trace.store.reader`: the one query layer (:class:`TraceReader`,
  :class:`TraceQuery`) behind ``genai_trace.search_traces``/``get_trace``, the CLI and the
  viewer.

Layer: ``store`` sits above ``exporters`` (the writer is an exporter) and ``_semantics``.
The names below are imported on first use, so ``import genai_trace`` stays light.

Example:
    >>> from genai_trace.store import TraceQuery, TraceReader
    >>> TraceReader(".genai_trace/traces.db").search(TraceQuery(state="ERROR", limit=10))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genai_trace.store.reader import TraceQuery, TraceReader
    from genai_trace.store.schema import DEFAULT_DB_PATH, TraceStoreError
    from genai_trace.store.writer import SQLiteTraceStore

_LAZY = {
    "DEFAULT_DB_PATH": "genai_trace.store.schema",
    "SQLiteTraceStore": "genai_trace.store.writer",
    "TraceQuery": "genai_trace.store.reader",
    "TraceReader": "genai_trace.store.reader",
    "TraceStoreError": "genai_trace.store.schema",
}

__all__ = ["DEFAULT_DB_PATH", "SQLiteTraceStore", "TraceQuery", "TraceReader", "TraceStoreError"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'genai_trace.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
