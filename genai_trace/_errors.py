"""Never raise into user code: one place that catches, logs once, and counts internal errors."""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable

logger = logging.getLogger("genai_trace")


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


def warn_misuse(call: str, expected: str, value: object, outcome: str) -> None:
    """Warn once per ``call`` that it got ``value``, which it cannot use; it never raises.

    For the fluent API and ``GenAISpan``: a misused call goes on with ``outcome`` (the
    value dropped, a default used). The value is named by its type only, never shown, so a
    secret passed by mistake does not reach the logs.
    """
    message = "genai_trace: %s takes %s, got %s; %s"
    warn_once("misuse " + call, message, call, expected, type(value).__name__, outcome)


def internal_error_counts() -> dict[str, int]:
    """Return how many internal errors happened at each place."""
    with _lock:
        return dict(_counts)


WARNING_INTERVAL_S = 60.0
"""At most one warning per this many seconds from each :class:`ThrottledWarning`."""


class ThrottledWarning:
    """A run-time warning logged the first time, then at most once per interval, with a count.

    For trouble that repeats per trace (a full queue, a backend that is down): the first
    occurrence is logged at once, later ones are counted, and the first occurrence after
    ``interval_s`` logs one summary with the count since the last warning. Thread-safe.

    Example:
        >>> dropped = ThrottledWarning("genai_trace: %s dropped %d traces since %s")
        >>> dropped.record(3, "OTLP")   # logs at once; later calls log at most once a minute
    """

    def __init__(
        self,
        message: str,
        *,
        interval_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.message = message
        self.interval_s = WARNING_INTERVAL_S if interval_s is None else interval_s
        self.clock = clock
        self.logged = 0
        # Guards the pending count and the time of the last warning; never held while logging.
        self._lock = threading.Lock()
        self._pending = 0
        self._last: float | None = None
        _THROTTLED.add(self)

    def record(self, count: int, *args: object) -> bool:
        """Count ``count`` occurrences; log ``message % (*args, total, since)`` when due.

        ``total`` is the count since the last warning and ``since`` says over how long
        ("the start" for the first). Returns whether a warning was logged.
        """
        with self._lock:
            self._pending += count
            now = self.clock()
            if self._last is not None and now - self._last < self.interval_s:
                return False
            since = "the start" if self._last is None else f"the last {now - self._last:.0f}s"
            total, self._pending, self._last = self._pending, 0, now
            self.logged += 1
        logger.warning(self.message, *args, total, since)
        return True

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held at the fork)."""
        self._lock = threading.Lock()


_THROTTLED: weakref.WeakSet[ThrottledWarning] = weakref.WeakSet()


def reset_after_fork() -> None:
    """In a forked child: fresh locks (run by the runtime's one fork hook, first)."""
    global _lock
    _lock = threading.Lock()
    for warning in list(_THROTTLED):
        warning.reset_after_fork()
