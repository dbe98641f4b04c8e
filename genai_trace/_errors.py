"""Never raise into user code: one place that catches, logs once, and counts internal errors."""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter

logger = logging.getLogger("genai_trace")


class TracingError(Exception):
    """Base class of the errors genai-trace raises for misuse of an explicit API."""


# Guards _seen and _counts; held only to update two dicts, never around logging.
_lock = threading.Lock()
_seen: set[str] = set()
_counts: Counter[str] = Counter()


def raise_internal_errors() -> bool:
    """Whether internal errors propagate instead of being logged (set by our test suite)."""
    return os.environ.get("GENAI_TRACE_RAISE_INTERNAL_ERRORS", "") == "1"


def log_internal_error(where: str) -> None:
    """Record the exception being handled as an internal error at ``where``.

    Call it from an ``except`` block. The first error at each place is logged with its
    traceback; later ones are only counted (see :func:`internal_error_counts`), so a broken
    hook on a hot path cannot flood the app's logs.

    Raises:
        Exception: the one being handled, re-raised when ``GENAI_TRACE_RAISE_INTERNAL_ERRORS=1``
            (the test suite turns internal errors into failures instead of hiding them).
    """
    with _lock:
        first = where not in _seen
        _seen.add(where)
        _counts[where] += 1
    if first:
        logger.error(
            "genai_trace internal error in %s; tracing continues with less telemetry "
            "(further errors here are counted, not logged)",
            where,
            exc_info=True,
        )
    if raise_internal_errors():
        raise  # re-raises the exception being handled, by contract


def warn_once(key: str, message: str, *args: object) -> None:
    """Log a warning the first time ``key`` is seen, with %-style ``args``."""
    with _lock:
        if key in _seen:
            return
        _seen.add(key)
    logger.warning(message, *args)


def internal_error_counts() -> dict[str, int]:
    """Return how many internal errors happened at each place."""
    with _lock:
        return dict(_counts)
