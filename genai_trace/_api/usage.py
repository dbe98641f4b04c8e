"""``genai_trace.usage()``: tokens, cost, latency and errors per model, session, user or tag.

A thin door to the store's usage queries (``store.usage``), which ``genai-trace stats --by``
uses too. Layer: ``_api``.
"""

from __future__ import annotations

import datetime
import os
import time

from genai_trace._api.reading import store_to_read
from genai_trace.store.usage import UsageRow, usage_summary


def usage(
    by: str = "model",
    *,
    since: datetime.timedelta | float | None = None,
    db_path: str | os.PathLike[str] | None = None,
) -> list[UsageRow]:
    """Usage and cost from the local store, one row per group, costliest first.

    Pending traces are written first, so a trace that just completed counts.

    Args:
        by: ``model`` (each LLM call once, however many spans describe it), ``session``,
            ``user`` or ``tag`` (whole traces).
        since: Only what started in this last stretch (a timedelta or seconds).
        db_path: Another store than the configured one.

    Raises:
        ValueError: an unknown ``by``.
        TraceStoreError: the store is missing, corrupt or not a trace store.

    Example:
        >>> for row in genai_trace.usage(by="model", since=datetime.timedelta(hours=24)):
        ...     print(row.key, row.total_tokens, row.cost_usd)
    """
    if isinstance(since, datetime.timedelta):
        since = since.total_seconds()
    elif since is not None and (isinstance(since, bool) or not isinstance(since, (int, float))):
        raise TypeError(f"since must be a timedelta or seconds, got {since!r}")
    return usage_summary(store_to_read(db_path), by, since, time.time())
