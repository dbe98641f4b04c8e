"""Helpers for testing code that uses genai-trace.

Example:
    >>> from genai_trace.testing import capture_traces
    >>> with capture_traces() as traces:
    ...     answer("What is OTLP?")
    >>> [span.name for span in traces[0].spans]
    ['answer', 'retrieve', 'complete']
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from genai_trace._runtime import state as _runtime
from genai_trace._semantics.model import Trace

__all__ = ["capture_traces"]


@contextmanager
def capture_traces(timeout_s: float = 10.0) -> Iterator[list[Trace]]:
    """Collect every trace that completes inside the block.

    Yields a list that is filled when the block exits (pending traces are flushed first,
    within ``timeout_s``). Traces that completed before the block are not included.
    """
    traces: list[Trace] = []
    rt = _runtime.get()
    if rt is None:
        yield traces
        return
    started_ns = time.monotonic_ns()
    collected: list[Trace] = []

    def listen(trace: Trace, completed_ns: int) -> None:
        if completed_ns >= started_ns:
            collected.append(trace)

    rt.pipeline.add_listener(listen)
    try:
        yield traces
    finally:
        rt.flush(timeout_s)
        rt.pipeline.remove_listener(listen)
        traces.extend(t.built() for t in collected)
