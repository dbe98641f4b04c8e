"""Validation of the JSON API's query parameters: every bad value is a clear 400."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import get_args

from genai_trace._semantics.model import TraceState
from genai_trace.store.reader import Cursor, SortKey, TraceQuery, is_newest_first, parse_order_by

STATES = get_args(TraceState)
MAX_TEXT = 1000
_MAX_INT = 2**63 - 1
_CURSOR = re.compile(r"^(-?\d{1,19})\.(\d{1,19})$")
FILTER_PARAMS = ("state", "name", "span_type", "tag", "session", "user", "text", "since")
_SINCE = re.compile(r"^(\d{1,9})([smhd])$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class BadRequestError(Exception):
    """A request the API refuses, with a message that says what to send instead."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


Query = Mapping[str, Sequence[str]]


def check_known(query: Query, known: Sequence[str]) -> None:
    """Refuse parameters the endpoint does not know, and repeats of single-valued ones."""
    for name, values in query.items():
        if name not in known:
            allowed = ", ".join(known) or "none"
            raise BadRequestError(f"unknown parameter {name!r}; this endpoint takes: {allowed}")
        if len(values) > 1 and name != "tag":
            raise BadRequestError(f"parameter {name!r} given {len(values)} times; give it once")


def text(query: Query, name: str) -> str | None:
    """A free-text parameter: ``None`` when absent or empty."""
    values = query.get(name)
    if not values or values[0] == "":
        return None
    return check_text(name, values[0])


def check_text(name: str, value: str) -> str:
    """``value`` if it is a sane string: not too long, no NUL characters."""
    if len(value) > MAX_TEXT:
        raise BadRequestError(f"{name} is too long ({len(value)} characters; at most {MAX_TEXT})")
    if "\x00" in value:
        raise BadRequestError(f"{name} contains a NUL character")
    return value


def integer(query: Query, name: str, default: int, low: int, high: int = _MAX_INT) -> int:
    """An integer parameter within ``[low, high]``; ``default`` when absent."""
    raw = text(query, name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        raise BadRequestError(f"{name} must be an integer, got {raw[:50]!r}") from None
    if not low <= value <= high:
        raise BadRequestError(f"{name} must be between {low} and {high}, got {value}")
    return value


def filters(query: Query) -> TraceQuery:
    """The Traces page filters: state, name, span_type, tag (repeatable), session, user, text."""
    state = text(query, "state")
    if state is not None and state not in STATES:
        raise BadRequestError(f"state must be one of {', '.join(STATES)}, got {state[:50]!r}")
    tags: list[tuple[str, str | None]] = []
    for raw in query.get("tag", ()):
        if raw == "":
            continue
        check_text("tag", raw)
        key, sep, value = raw.partition("=")
        if not key:
            raise BadRequestError(f"tag must be KEY or KEY=VALUE, got {raw[:50]!r}")
        tags.append((key, value if sep else None))
    if len(tags) > 20:
        raise BadRequestError(f"at most 20 tag filters, got {len(tags)}")
    return TraceQuery(
        start_time_ns=since(query),
        state=state,
        name=text(query, "name"),
        span_type=text(query, "span_type"),
        tags=dict(tags),
        session_id=text(query, "session"),
        user_id=text(query, "user"),
        text=text(query, "text"),
    )


def ordered(query: Query, filtered: TraceQuery) -> TraceQuery:
    """``filtered`` in the order ``order`` names (``duration DESC``, ``name ASC``...)."""
    raw = text(query, "order")
    if raw is None:
        return filtered
    try:
        order_by, descending = parse_order_by(raw)
    except ValueError as exc:
        raise BadRequestError(str(exc).replace("order_by", "order", 1)) from None
    return replace(filtered, order_by=order_by, descending=descending)


def page_cursor(query: Query, name: str, ordered_query: TraceQuery) -> Cursor | SortKey | None:
    """The ``before`` of a page in ``ordered_query``'s order: a cursor, or a sort key's text."""
    if is_newest_first(ordered_query):
        return cursor(query, name)
    raw = text(query, name)
    if raw is None:
        return None
    try:
        return SortKey.decode(raw)
    except ValueError:
        raise BadRequestError(
            f"{name} must be the 'next' value of a previous page in the same order, "
            f"got {raw[:50]!r}"
        ) from None


def since(query: Query) -> int | None:
    """``since=15m`` (s, m, h or d ago, as the CLI's ``--since``): the start of the time range."""
    value = text(query, "since")
    if value is None:
        return None
    match = _SINCE.match(value)
    if match is None:
        raise BadRequestError(f"since must be like 30s, 15m, 2h or 7d, got {value[:50]!r}")
    seconds = int(match.group(1)) * _SECONDS[match.group(2)]
    return time.time_ns() - seconds * 1_000_000_000


def cursor(query: Query, name: str) -> Cursor | None:
    """A page cursor as given in a page's ``next``; ``None`` when absent."""
    raw = text(query, name)
    if raw is None:
        return None
    match = _CURSOR.match(raw)
    if match is None:
        raise BadRequestError(
            f"{name} must be the 'next' value of a previous page (like '1700000000000.42'), "
            f"got {raw[:50]!r}"
        )
    start_ns, seq = int(match.group(1)), int(match.group(2))
    if abs(start_ns) > _MAX_INT or seq > _MAX_INT:
        raise BadRequestError(f"{name} is out of range")
    return Cursor(start_ns, seq)


def identifier(value: str, what: str) -> str:
    """A trace or session id taken from the path: non-empty, bounded, printable."""
    if value == "":
        raise BadRequestError(f"missing {what}")
    check_text(what, value)
    return value
