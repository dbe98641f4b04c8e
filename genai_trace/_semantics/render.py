"""A trace as a readable tree of text lines: for the console exporter and ``genai-trace show``."""

from __future__ import annotations

import datetime
import json
from typing import Any

from genai_trace._semantics.capture import truncate_text
from genai_trace._semantics.model import SpanRecord, Trace, TraceInfo

_RESET = "\033[0m"
_DIM = "\033[2m"
_BOLD = "\033[1m"
_RED = "\033[31m"
_TYPE_COLORS = {
    "CHAIN": "\033[34m",
    "WORKFLOW": "\033[34m",
    "AGENT": "\033[35m",
    "LLM": "\033[32m",
    "CHAT_MODEL": "\033[32m",
    "EMBEDDING": "\033[36m",
    "RETRIEVER": "\033[33m",
    "RERANKER": "\033[33m",
    "TOOL": "\033[36m",
}


class Painter:
    """Wraps text in ANSI colours, or leaves it alone when colour is off."""

    def __init__(self, color: bool) -> None:
        self.color = color

    def paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and code else text

    def span_type(self, span_type: str) -> str:
        return self.paint(span_type, _TYPE_COLORS.get(span_type, _DIM))

    def state(self, state: str) -> str:
        return self.paint(state, _RED if state == "ERROR" else "")

    def dim(self, text: str) -> str:
        return self.paint(text, _DIM)

    def bold(self, text: str) -> str:
        return self.paint(text, _BOLD)


def format_duration(ms: float | None) -> str:
    """``12.3 ms``, ``1.24 s``, or ``running`` for an unfinished span."""
    if ms is None:
        return "running"
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.1f} ms" if ms >= 1 else f"{ms:.3f} ms"


def format_time(ns: int) -> str:
    """A wall-clock time of day in local time, to the millisecond."""
    moment = datetime.datetime.fromtimestamp(ns / 1e9)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def one_line(value: Any, max_chars: int) -> str:
    """A value on one line: strings as they are, others as compact JSON."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return truncate_text(" ".join(text.split()), max_chars)


def header_lines(info: TraceInfo, painter: Painter) -> list[str]:
    """The trace's facts, above its tree."""
    parts = [
        painter.bold(info.name),
        painter.state(info.state),
        format_duration(info.duration_ms),
        painter.dim(f"trace {info.trace_id}"),
    ]
    if info.token_usage is not None:
        usage = info.token_usage
        parts.append(f"tokens {usage.input_tokens}+{usage.output_tokens}={usage.total_tokens}")
    if not info.complete:
        parts.append(painter.paint(f"INCOMPLETE ({info.incomplete_reason})", _RED))
    lines = ["  ".join(parts)]
    facts = [
        ("started", format_time(info.start_time_ns)),
        ("session", info.session_id),
        ("user", info.user_id),
        ("request id", info.client_request_id),
        ("tags", ", ".join(f"{k}={v}" if v else k for k, v in info.tags.items()) or None),
        ("request", one_line(info.request_preview, 200) or None),
        ("response", one_line(info.response_preview, 200) or None),
    ]
    lines.extend(f"  {painter.dim(label + ':')} {value}" for label, value in facts if value)
    return lines


def render_trace(
    trace: Trace, *, color: bool = False, show_io: bool = True, io_chars: int = 160
) -> list[str]:
    """The whole trace: header, then one line per span (and its inputs/outputs)."""
    painter = Painter(color)
    lines = header_lines(trace.info, painter)
    ids = {s.span_id for s in trace.spans}
    children: dict[str | None, list[SpanRecord]] = {}
    for span in trace.spans:
        children.setdefault(span.parent_id if span.parent_id in ids else None, []).append(span)
    roots = children.get(None, [])
    # (span, prefix of its line, prefix of its children's lines); iterative for deep trees.
    stack = [(span, "  ", "  ") for span in reversed(roots)]
    while stack:
        span, prefix, child_prefix = stack.pop()
        lines.append(prefix + _span_line(span, painter))
        if show_io:
            for label, value in (("in ", span.inputs), ("out", span.outputs)):
                text = one_line(value, io_chars)
                if text:
                    lines.append(child_prefix + "   " + painter.dim(f"{label}: ") + text)
        kids = children.get(span.span_id, [])
        for index in range(len(kids) - 1, -1, -1):
            last = index == len(kids) - 1
            stack.append(
                (
                    kids[index],
                    child_prefix + ("└─ " if last else "├─ "),
                    child_prefix + ("   " if last else "│  "),
                )
            )
    return lines


def _span_line(span: SpanRecord, painter: Painter) -> str:
    parts = [span.name, painter.span_type(span.span_type), format_duration(span.duration_ms)]
    if span.model:
        parts.append(painter.dim(span.model))
    if span.token_usage is not None:
        parts.append(painter.dim(f"{span.token_usage.total_tokens} tok"))
    if span.status == "ERROR":
        parts.append(painter.paint(f"ERROR {span.status_message or ''}".rstrip(), _RED))
    return "  ".join(parts)
