"""An app's own span processor on the global provider, for one test only.

The SDK cannot take a processor out of a provider again. One left on the global provider
changes every later test: genai-trace is no longer the sole processor, so payloads are
redacted as they are recorded instead of waiting for the trace's build, and tests of the
waiting path would silently test the other one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry.sdk.trace import SpanProcessor, TracerProvider


@contextmanager
def added_processor(provider: TracerProvider, processor: SpanProcessor) -> Iterator[None]:
    """``processor`` on ``provider`` for the block, then taken out and shut down."""
    provider.add_span_processor(processor)
    try:
        yield
    finally:
        active = provider._active_span_processor
        with active._lock:
            active._span_processors = tuple(
                p for p in active._span_processors if p is not processor
            )
        processor.shutdown()


def processors_of(provider: object) -> tuple[object, ...]:
    """The processors ``provider`` hands spans to (empty for a provider of another kind)."""
    active = getattr(provider, "_active_span_processor", None)
    return tuple(getattr(active, "_span_processors", ()))
