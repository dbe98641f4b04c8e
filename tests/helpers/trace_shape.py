"""Helpers shared by the test modules: spell a trace out as plain data to compare exactly."""

from __future__ import annotations

from typing import Any

from genai_trace import Trace


def span_tree(trace: Trace) -> list[tuple[int, str, str]]:
    """``(depth, name, span_type)`` depth-first, children in start order."""
    return [(depth, span.name, span.span_type) for span, depth in trace.walk()]


def parent_names(trace: Trace) -> dict[str, str | None]:
    """Each span's name mapped to its parent's name (``None`` for the root)."""
    by_id = {span.span_id: span.name for span in trace.spans}
    return {span.name: by_id.get(span.parent_id or "") for span in trace.spans}


def only(traces: list[Trace]) -> Trace:
    """The single trace of a list, failing loudly when there are more or none."""
    assert len(traces) == 1, [t.info.name for t in traces]
    return traces[0]


def event_names(trace: Trace, span_name: str) -> list[str]:
    span = trace.get_span(span_name)
    assert span is not None, span_name
    return [event.name for event in span.events]


def attrs_without_genai(attributes: Any) -> dict[str, Any]:
    """Attributes minus the ones genai-trace writes itself, to compare the user's exactly."""
    ours = ("openinference.", "genai_trace.", "input.", "output.")
    return {k: v for k, v in dict(attributes).items() if not k.startswith(ours)}
