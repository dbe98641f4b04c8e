"""A whole trace handed to exporters before it is built: its first reader builds it, once.

Building a :class:`Trace` (records, decoded inputs and outputs, previews, totals) costs more
than recording its spans did. Done eagerly on the export worker, that work competes with the
app for the GIL on every trace, even for exporters that never read a record. A
:class:`DeferredTrace` keeps the finished OTel spans (immutable once ended) and finalizes
them once, before any destination reads them: waiting payloads redacted, one view per span
(:class:`~genai_trace._runtime.builder.SpanView`). An exporter that writes spans as they are
(OTLP with the default dialect) reads :meth:`DeferredTrace.span_views` and
:meth:`DeferredTrace.view_info` and never builds a record; the full trace is built from the
views the first time ``info`` or ``spans`` is read, on the reader's thread: an exporter's
worker, or the app's thread in ``get_trace``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from genai_trace._errors import log_internal_error
from genai_trace._runtime.builder import (
    SpanView,
    attributes_of,
    finalize,
    trace_of_views,
    view_info,
    waiting_payloads_clean,
)
from genai_trace._runtime.ids import format_trace_id
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.facts import TraceUpdates
from genai_trace._semantics.model import SpanRecord, Trace, TraceInfo

_Parts = tuple[Sequence[ReadableSpan], TraceUpdates | None, str | None, int]

# Makes the build happen once when two exporters' threads read the same trace together.
# Builds hold the GIL anyway, so one lock for all traces costs no parallelism. Reentrant:
# building a merged trace builds its parts.
_build_lock = threading.RLock()


class DeferredTrace(Trace):
    """A :class:`Trace` built from its spans when first read; equal to the built trace."""

    # The spans and what came with them in slots of their own, not a tuple: a queued trace
    # is objects the garbage collector walks, and a tuple holding a list is one more.
    __slots__ = (
        "_built", "_clean", "_dropped", "_info", "_readers", "_reason", "_spans", "_updates",
        "_views",
    )  # fmt: skip
    _built: Trace | None
    _clean: bool | None
    _spans: Sequence[ReadableSpan] | None
    _updates: TraceUpdates | None
    _reason: str | None
    _dropped: int
    _views: list[SpanView] | None
    _info: TraceInfo | None
    _readers: int

    def __init__(
        self,
        spans: Sequence[ReadableSpan],
        updates: TraceUpdates | None = None,
        incomplete_reason: str | None = None,
        dropped_spans: int = 0,
        readers: int = 0,
    ) -> None:
        """``readers``: how many destinations will read the views (see :meth:`views_read`)."""
        # Trace is a frozen dataclass: its own __setattr__ refuses; these slots are ours.
        setattr_ = object.__setattr__
        setattr_(self, "_spans", spans)
        setattr_(self, "_updates", updates)
        setattr_(self, "_reason", incomplete_reason)
        setattr_(self, "_dropped", dropped_spans)
        setattr_(self, "_built", None)
        setattr_(self, "_views", None)
        setattr_(self, "_info", None)
        setattr_(self, "_readers", readers)
        # Whether its waiting payloads need no redaction, as a batch's look found (None: not
        # looked at; False: each is looked at alone as the views are made).
        setattr_(self, "_clean", None)

    @property
    def parts(self) -> _Parts | None:
        """What the trace was made with (its spans, updates, reason, dropped count).

        ``None`` for a merge of parts.
        """
        spans = self._spans
        if spans is None:
            return None
        return (spans, self._updates, self._reason, self._dropped)

    @property
    def info(self) -> TraceInfo:
        """The trace's facts (builds the trace if nobody has yet)."""
        return self.built().info

    @property
    def spans(self) -> tuple[SpanRecord, ...]:
        """The trace's span records, parents first (builds the trace if nobody has yet)."""
        return self.built().spans

    @property
    def client_request_id(self) -> str | None:
        """The client request id, without building the trace (what ``info`` will say)."""
        built, spans, updates = self._built, self._spans, self._updates
        if built is not None or spans is None:
            return self.built().info.client_request_id
        if updates is not None and updates.client_request_id is not None:
            return updates.client_request_id
        for span in reversed(spans):  # the root usually ends last
            parent = span.parent
            if parent is None or parent.is_remote:
                value = (span.attributes or {}).get(sc.TRACE_CLIENT_REQUEST_ID)
                return value if isinstance(value, str) and value else None
        return None

    def raw_attributes(self) -> list[Mapping[str, Any]] | None:
        """Each OTel span's attributes as recorded, before redaction: read, never write.

        For a quick look that must not finalize the trace. ``None`` once only records are
        left (read those).
        """
        spans = self._spans
        if spans is None:
            return None
        return [attributes_of(span) for span in spans]

    def span_views(self) -> list[SpanView] | None:
        """Each span's view, parents first (finalized now if it was not yet).

        ``None`` when the trace has no views to give (a merge of parts, a failed
        finalize): read the records instead.
        """
        views = self._views
        if views is not None or self._spans is None:
            return views
        with _build_lock:
            return self._finalized()

    def view_info(self) -> TraceInfo:
        """The trace's facts, from the views: equal to ``info``, without building records."""
        info = self._info
        if info is not None:
            return info
        with _build_lock:
            info = self._info
            if info is None:
                built = self._built
                if built is not None:
                    return built.info
                views = self._finalized()
                if views is None:
                    return self.built().info
                try:
                    info = view_info(views, self._updates, self._reason, self._dropped)
                except Exception:
                    log_internal_error("building a trace")
                    return self.built().info
                object.__setattr__(self, "_info", info)
        return info

    def views_read(self) -> None:
        """One destination is done with the views; after the last, they are let go.

        The facts made from them (``view_info``) go with them. Kept until the trace itself
        is dropped (a queue's batch, the recent traces), they are objects the garbage
        collector walks again and again: letting them go here took a third of the store's
        collections away. A reader after this (a retry, ``get_trace``) makes them again
        from the spans: same views and facts, redaction included.

        Without the build lock, which would queue one destination's thread behind another's
        build: two readers done at once may count as one, and the views are then kept until
        the trace is dropped, never let go early.
        """
        readers = self._readers - 1
        object.__setattr__(self, "_readers", readers)
        if readers <= 0:
            object.__setattr__(self, "_views", None)
            object.__setattr__(self, "_info", None)

    def _finalized(self) -> list[SpanView] | None:
        """The views, made once (the build lock held)."""
        views = self._views
        spans = self._spans
        if views is None and spans is not None:
            try:
                views = finalize(spans, self._clean is True)
            except Exception:
                log_internal_error("building a trace")
                return None
            object.__setattr__(self, "_views", views)
        return views

    def built(self) -> Trace:
        """The plain, built :class:`Trace` (built now if it was not yet)."""
        built = self._built
        if built is not None:
            return built
        with _build_lock:
            built = self._built
            if built is None:
                built = self._make()
                object.__setattr__(self, "_built", built)
        return built

    def _make(self) -> Trace:
        spans = self._spans
        assert spans is not None  # kept for the views' exporters
        views = self._finalized()
        if views is not None:
            try:
                info = self._info or view_info(views, self._updates, self._reason, self._dropped)
                return trace_of_views(views, info)
            except Exception:
                log_internal_error("building a trace")
        return _failed(spans, self._updates, self._reason, self._dropped)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return (self.info, self.spans) == (other.info, other.spans)

    __hash__ = Trace.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Trace, (self.info, self.spans))  # copies and pickles are plain traces


class MergedTrace(DeferredTrace):
    """Two parts of one trace (a late span's): the earlier part's facts, both parts' spans.

    Joined when first read, like any :class:`DeferredTrace`.
    """

    __slots__ = ("_pieces",)
    _pieces: tuple[DeferredTrace, DeferredTrace]

    def __init__(self, earlier: DeferredTrace, later: DeferredTrace) -> None:
        object.__setattr__(self, "_spans", None)
        object.__setattr__(self, "_built", None)
        object.__setattr__(self, "_views", None)  # a merge is read as records
        object.__setattr__(self, "_info", None)
        object.__setattr__(self, "_pieces", (earlier, later))

    @property
    def client_request_id(self) -> str | None:
        return self._pieces[0].client_request_id

    def _make(self) -> Trace:
        earlier, later = self._pieces
        return Trace(info=earlier.info, spans=earlier.spans + later.spans)


FINALIZED_TOGETHER = 32
"""Traces whose waiting payloads :func:`finalize_together` looks at in one go: a text that
needs a closer look sends only its own group of traces to the one-by-one path."""


def finalize_together(traces: Sequence[Trace]) -> None:
    """Look at the waiting payloads of a batch's unread traces for secrets, a group at a time.

    Looking at a whole group's payloads at once costs a fraction of looking at each alone
    (:func:`~genai_trace._runtime.builder.waiting_payloads_clean`). A trace of a clean group
    is marked so: its first reader makes its views without looking again. A group where
    something may need redacting is left to each trace's first reader, which looks at its
    payloads one by one. The views themselves are made as each trace is read, not for the
    whole batch at once: a reader that lets them go as it goes (the local store) never
    holds a batch's worth of them, objects the garbage collector would walk.
    """
    pending = [  # not looked at yet, by this destination's thread or another's
        trace
        for trace in traces
        if type(trace) is DeferredTrace
        and trace._clean is None
        and trace._views is None
        and trace._spans is not None
    ]
    for start in range(0, len(pending), FINALIZED_TOGETHER):
        group = pending[start : start + FINALIZED_TOGETHER]
        try:
            clean = waiting_payloads_clean([trace._spans for trace in group])  # type: ignore[misc]
        except Exception:
            log_internal_error("building a trace")
            return
        for trace in group:
            object.__setattr__(trace, "_clean", clean)


def _failed(
    spans: Sequence[ReadableSpan],
    updates: TraceUpdates | None,
    incomplete_reason: str | None,
    dropped_spans: int,
) -> Trace:
    """A builder bug must not fail a whole export batch: the trace goes out as a bare shell."""
    first = spans[0]
    context = first.get_span_context()
    return Trace(
        info=TraceInfo(
            trace_id=format_trace_id(context.trace_id) if context is not None else "0" * 32,
            name=first.name,
            state="ERROR",
            start_time_ns=first.start_time or 0,
            end_time_ns=first.end_time,
            request_preview=None,
            response_preview=None,
            span_count=0,
            complete=False,
            incomplete_reason="build_failed",
            dropped_spans=dropped_spans + len(spans),
        ),
        spans=(),
    )


def reset_after_fork() -> None:
    """In a forked child: a fresh build lock (run by ``state``'s fork hook)."""
    global _build_lock
    _build_lock = threading.RLock()  # a build may have held it at the fork
