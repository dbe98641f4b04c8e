"""What ``search_traces`` returns: a list of trace facts that knows its next page.

A plain ``list`` subclass, so every caller that treated the result as a list still can;
the page token and the table view ride along. pandas is an optional extra, imported by
:meth:`TraceInfoList.to_pandas` only.

Layer: ``_semantics`` (pure); imports the model.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterable
from typing import Any

from genai_trace._semantics.model import TraceInfo

_TOKENS = ("input_tokens", "output_tokens", "total_tokens")
_FIRST = (
    "trace_id",
    "name",
    "state",
    "start_time",
    "end_time",
    "duration_ms",
    "request_preview",
    "response_preview",
    "session_id",
    "user_id",
    *_TOKENS,
    "span_count",
    "tags",
    "metadata",
)
COLUMNS = (
    *_FIRST,
    *(f.name for f in dataclasses.fields(TraceInfo) if f.name not in {*_FIRST, "token_usage"}),
)
"""The columns of :meth:`TraceInfoList.to_pandas`, in order (every field of the facts)."""


class TraceInfoList(list[TraceInfo]):
    """Trace facts (a ``list``), with the token of the next page and a table view.

    Example:
        >>> page = genai_trace.search_traces(limit=50)
        >>> while page.next_page_token:
        ...     page = genai_trace.search_traces(limit=50, page_token=page.next_page_token)
    """

    next_page_token: str | None
    """Pass it as ``search_traces(page_token=...)`` with the same filters and order for
    the next page; ``None`` on the last page."""

    def __init__(self, infos: Iterable[TraceInfo] = (), next_page_token: str | None = None) -> None:
        super().__init__(infos)
        self.next_page_token = next_page_token

    def to_pandas(self) -> Any:  # a pandas.DataFrame; pandas is optional, and untyped
        """A ``pandas.DataFrame``: one row per trace, tokens as columns, times in UTC.

        Every field of :class:`TraceInfo` is a column; ``start_time`` and ``end_time`` are
        timestamps, ``input_tokens``, ``output_tokens`` and ``total_tokens`` numbers.

        Raises:
            ImportError: pandas is not installed; it names the extra to install.
        """
        try:
            # Imported by name: pandas ships no type information without pandas-stubs.
            pandas = importlib.import_module("pandas")
        except ImportError as exc:
            raise ImportError(
                'to_pandas() needs pandas: pip install "genai-trace[pandas]"'
            ) from exc
        rows = [_row(info) for info in self]
        frame = pandas.DataFrame.from_records(rows, columns=list(COLUMNS))
        for column, source in (("start_time", "start_time_ns"), ("end_time", "end_time_ns")):
            frame[column] = pandas.to_datetime(frame[source], unit="ns", utc=True)
        return frame


def _row(info: TraceInfo) -> dict[str, Any]:
    row = info.to_dict()
    usage = row.pop("token_usage") or {}
    for key in _TOKENS:
        row[key] = usage.get(key)
    return row
