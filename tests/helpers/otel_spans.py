"""Finished OpenTelemetry SDK spans made by hand, for tests of what is built from them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, TraceFlags
from opentelemetry.trace.status import Status, StatusCode

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
TRACE_HEX = "0af7651916cd43dd8448eb211c80319c"
T0 = 1_700_000_000_000_000_000  # ns


def sid(n: int) -> str:
    """The hex span id of span number ``n``."""
    return f"{n:016x}"


def make_span(
    name: str,
    span_id: int,
    parent: int | None = None,
    *,
    attributes: Mapping[str, Any] | None = None,
    start: int = 0,
    end: int | None = 10,
    status: StatusCode = StatusCode.UNSET,
    description: str | None = None,
    events: Sequence[Event] = (),
    remote_parent: bool = False,
) -> ReadableSpan:
    """A finished SDK span; ``start``/``end`` are milliseconds after T0 (``end=None``: open)."""
    parent_context = (
        SpanContext(TRACE_ID, parent, is_remote=remote_parent, trace_flags=TraceFlags(1))
        if parent is not None
        else None
    )
    return ReadableSpan(
        name=name,
        context=SpanContext(TRACE_ID, span_id, is_remote=False, trace_flags=TraceFlags(1)),
        parent=parent_context,
        attributes=dict(attributes or {}),
        events=events,
        status=Status(status, description),
        start_time=T0 + start * 1_000_000,
        end_time=None if end is None else T0 + end * 1_000_000,
    )


def ms(n: int) -> int:
    return T0 + n * 1_000_000
