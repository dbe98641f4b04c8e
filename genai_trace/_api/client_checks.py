"""The client API's errors and argument checks: every misuse named, with the id and the call.

The fluent API never raises into user code; the client is an explicit API, so misuse raises
one of these :class:`~genai_trace.TracingError` subclasses, or ``TypeError``/``ValueError``
for an argument of the wrong type or value.
"""

from __future__ import annotations

import re

from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from genai_trace._errors import TracingError
from genai_trace._runtime.ids import format_span_id

# Exactly the digits: int(text, 16) alone would also take "0x", "_", signs and spaces.
_HEX_ID = {digits: re.compile(f"[0-9a-fA-F]{{{digits}}}") for digits in (16, 32)}
# Ids as the client hands them out (lowercase) need no conversion to be registry keys.
_KEY = {digits: re.compile(f"[0-9a-f]{{{digits}}}") for digits in (16, 32)}
_STATUS_CODES = {"OK": StatusCode.OK, "ERROR": StatusCode.ERROR, "UNSET": StatusCode.UNSET}


class MalformedIdError(TracingError, ValueError):
    """An id is not W3C-shaped: 32 hex digits for a trace, 16 for a span, not all zeros.

    Example: ``client.start_trace("job", trace_id="not-hex")``
    """


class TraceNotFoundError(TracingError, LookupError):
    """The trace was never started by this client (or ended long ago, see FINISHED_MEMORY).

    Example: ``client.end_trace(trace_id="4bf92f3577b34da6a3ce929d0e0e4736")``
    """


class SpanNotFoundError(TracingError, LookupError):
    """The span (or parent) id is no span of that trace, nor of any other open one.

    Example: ``client.end_span(trace_id=root.trace_id, span_id="00f067aa0ba902b7")``
    """


class AlreadyEndedError(TracingError):
    """The span or trace already ended: ending it twice, or using a trace after its end.

    Example: ``client.end_trace(trace_id=t); client.end_trace(trace_id=t)``
    """


class TraceTimedOutError(AlreadyEndedError):
    """The trace was exported marked incomplete before its end, and the client forgot it.

    It was open longer than ``trace_timeout_s``, or genai-trace was reconfigured or shut
    down while it was open.

    Example: ``root = client.start_trace("job"); time.sleep(timeout); client.end_trace(...)``
    """


class WrongTraceError(TracingError):
    """The span (or parent) id belongs to another open trace than the ``trace_id`` given.

    Example: ``client.start_span("step", trace_id=a.trace_id, parent_id=b.span_id)``
    """


class DuplicateTraceError(TracingError):
    """``start_trace(trace_id=...)`` named a trace that is already open in this client.

    Example: ``client.start_trace("a", trace_id=t); client.start_trace("b", trace_id=t)``
    """


class OpenSpansError(TracingError):
    """``end_trace`` found spans of the trace that the client started still open.

    End them first, or pass ``end_open_spans=True`` to end them with status ERROR and the
    description :data:`ENDED_BY_END_TRACE`.

    Example: ``client.start_span("step", ...); client.end_trace(trace_id=root.trace_id)``
    """


class RootSpanError(TracingError):
    """``end_span`` named a trace's root span; a root ends with ``end_trace``.

    Example: ``client.end_span(trace_id=root.trace_id, span_id=root.span_id)``
    """


def _span_int(span: trace_api.Span) -> int:
    return span.get_span_context().span_id


def _start_ns(span: trace_api.Span) -> int | None:
    value = getattr(span, "start_time", None)
    return value if isinstance(value, int) else None


def _trace_key(value: object, call: str) -> str:
    """The trace id as the client's registry keys it (lowercase hex), checked.

    An id already in that form is kept as it is; any other is parsed (and refused as
    :func:`_parse_trace_id` refuses it) and formatted.
    """
    return _hex_key(value, 32, call, "trace_id", "trace")


def _span_key(value: object, call: str, argument: str) -> str:
    """The span id as the client's registry keys it (lowercase hex), checked."""
    return _hex_key(value, 16, call, argument, "span")


def _parse_trace_id(value: object, call: str) -> int:
    return _parse_hex(value, 32, call, "trace_id", "trace")


def _parse_span_id(value: object, call: str, argument: str) -> int:
    return _parse_hex(value, 16, call, argument, "span")


def _hex_key(value: object, digits: int, call: str, argument: str, kind: str) -> str:
    if type(value) is str and _KEY[digits].fullmatch(value) and value != "0" * digits:
        return value
    return "%0*x" % (digits, _parse_hex(value, digits, call, argument, kind))  # noqa: UP031


def _parse_hex(value: object, digits: int, call: str, argument: str, kind: str) -> int:
    """The id as an int; either case accepted, all zeros refused (W3C's invalid id)."""
    if isinstance(value, str) and _HEX_ID[digits].fullmatch(value):
        number = int(value, 16)
        if number:
            return number
    raise _malformed(value, digits, call, argument, kind)


def _malformed(value: object, digits: int, call: str, argument: str, kind: str) -> MalformedIdError:
    """The error for an id that is not ``digits`` hex digits, or is all zeros."""
    if isinstance(value, str) and value == "0" * digits:
        problem = "all zeros, which W3C reserves for an invalid id"
    elif isinstance(value, str):
        problem = f"{len(value)} characters, not all hex digits"
        if len(value) == digits:
            problem = "not all hex digits"
        if kind == "trace":
            problem += "; for a free-form id of your own use client_request_id"
    else:
        problem = f"of type {type(value).__name__}, not str"
    return MalformedIdError(
        f"{call}: {argument} {value!r} is not a {kind} id ({digits} hex digits): it is {problem}"
    )


def _parse_status(
    call: str, status: str | StatusCode | Status | None, description: str | None
) -> Status | None:
    if description is not None and not isinstance(description, str):
        raise TypeError(f"{call}(status_description=...) must be a str, got {description!r}")
    if status is None:
        if description is not None:
            raise ValueError(f"{call}: status_description needs status='ERROR'")
        return None
    if isinstance(status, Status):
        return status if description is None else Status(status.status_code, description)
    if isinstance(status, str) and status.upper() in _STATUS_CODES:
        status = _STATUS_CODES[status.upper()]
    if not isinstance(status, StatusCode):
        raise ValueError(
            f"{call}(status=...) must be 'OK', 'ERROR', 'UNSET', a StatusCode or a Status, "
            f"got {status!r}"
        )
    return Status(status, description if status is StatusCode.ERROR else None)


def _check_name(call: str, name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{call}() name must be a str, got {name!r}")


def _check_type(call: str, argument: str, value: object, kind: type, expected: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{call}({argument}=...) must be {expected}, got {value!r}")


def _check_time(call: str, argument: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{call}({argument}=...) must be an int of ns since the epoch, got {value!r}"
        )
    if value < 0:
        raise ValueError(f"{call}({argument}=...) must not be negative, got {value}")


def _check_end_after_start(call: str, span: trace_api.Span, end_time_ns: int | None) -> None:
    start = _start_ns(span)
    if end_time_ns is not None and start is not None and end_time_ns < start:
        raise ValueError(
            f"{call}: end_time_ns={end_time_ns} is before the start of span "
            f"{format_span_id(_span_int(span))} ({start})"
        )
