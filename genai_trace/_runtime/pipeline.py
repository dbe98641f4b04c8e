"""From completed traces to exporters: fan out to one queue and thread per exporter.

::

    assembler ──spans──▶ submit (on the thread that ended the trace's last span)
                           ├──▶ recent traces, listeners
                           └──DeferredTrace──▶ Destination(exporter) x N,
                                               each with its own queue and thread

Nothing is built here: a trace is built (records, previews, totals) by the first exporter
or caller that reads it (see _deferred.py). A ticker thread sweeps timed-out traces.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.trace import ReadableSpan

from genai_trace._errors import ThrottledWarning, log_internal_error, logger
from genai_trace._runtime.deferred import DeferredTrace, MergedTrace, finalize_together
from genai_trace._runtime.ids import parse_trace_id
from genai_trace._runtime.worker import QueueWorker
from genai_trace._semantics.facts import TraceUpdates
from genai_trace._semantics.feedback import FeedbackDelivery
from genai_trace._semantics.messages import is_genai_span
from genai_trace._semantics.model import Trace
from genai_trace.exporters._base import ExportResult, views_read

if TYPE_CHECKING:
    from genai_trace.exporters._base import TraceExporter

TraceListener = Callable[[Trace, int], None]
"""Called with each trace, on the thread that completed it, and the monotonic ns it did."""


class Destination:
    """One exporter behind its own bounded queue and thread, so it delays no other.

    Counters (read by ``genai_trace.stats()``): ``exported`` and ``failed`` traces (the
    exporter answered, or gave up after its own retries), ``dropped`` (the queue was full, or
    shutdown ran out of time). Drops and failures are logged the first time, then at most
    once per :data:`genai_trace._errors.WARNING_INTERVAL_S` with a count, never per trace.
    """

    def __init__(self, exporter: TraceExporter, max_queue: int) -> None:
        self.exporter = exporter
        label = getattr(exporter, "name", None) or type(exporter).__name__
        self.name = f"genai_trace export: {label}"
        self.exported = 0
        self.failed = 0
        # Only a sampling exporter (``take_sampled_out``) drops traces on purpose.
        self.samples = hasattr(exporter, "take_sampled_out")
        self.sampled_out = 0
        # Feedback rides the traces' queue (see export_feedback in _base): one order per
        # exporter, no second thread racing the first.
        self.takes_feedback = callable(getattr(exporter, "export_feedback", None))
        self.feedback_exported = 0
        self.feedback_failed = 0
        self._feedback_seen = False  # until the first feedback, a batch is all traces
        self.riders: tuple[TraceExporter, ...] = ()
        """Exporters that read each batch on this destination's thread, before its exporter
        (the GenAI metrics): no queue or thread of their own, no sampling, no counts."""
        tick = getattr(exporter, "tick", None)
        self._worker: QueueWorker[Trace | FeedbackDelivery] = QueueWorker(
            self.name,
            self._export,
            max_queue=max_queue,
            # An exporter may take bigger batches (the local store: fewer transactions).
            max_batch=int(getattr(exporter, "max_batch", 256)),
            on_tick=tick if callable(tick) else None,
        )
        self.drop_warning = ThrottledWarning(
            "genai_trace: the queue of %s is full (the exporter is slower than the app, or "
            "its backend is down): %d traces dropped since %s; see genai_trace.stats()"
        )
        self.failure_warning = ThrottledWarning(
            "genai_trace: %s failed to export %d traces since %s (the backend refused them "
            "or is unreachable); see genai_trace.stats()"
        )
        self.feedback_failure_warning = ThrottledWarning(
            "genai_trace: %s failed to export %d feedback since %s (the backend refused them "
            "or is unreachable); see genai_trace.stats()"
        )

    @property
    def dropped(self) -> int:
        """Traces dropped: the queue was full, or shutdown ran out of time before them."""
        return self._worker.dropped

    @property
    def queued(self) -> int:
        """Traces waiting in this destination's queue."""
        return len(self._worker)

    def put(self, trace: Trace) -> None:
        """Queue a trace for this destination; a full queue drops and counts it."""
        if not self._worker.put(trace):
            self.drop_warning.record(1, self.name)

    def put_feedback(self, delivery: FeedbackDelivery) -> None:
        """Queue a feedback behind the traces queued before it; a full queue drops it."""
        self._feedback_seen = True
        if not self._worker.put(delivery):
            self.drop_warning.record(1, self.name)

    def flush(self, timeout_s: float | None) -> bool:
        """Wait until every queued trace was handed to the exporter."""
        return self._worker.flush(timeout_s)

    def shutdown(self, timeout_s: float | None) -> bool:
        """Export what is queued (bounded by ``timeout_s``), then shut the exporter down.

        Returns ``False`` when time ran out; the traces left in the queue are counted as
        dropped. Those the exporter is still working on are named in the warning, not
        counted: it may yet finish them, unless the process ends first. An exporter still
        stuck in ``export`` (a hanging backend) is shut down on a helper thread, so its
        ``shutdown`` cannot hold this call (or process exit) either.
        Call :meth:`stop` on every destination first to let them finish side by side.
        """
        left_before = self._worker.dropped
        finished = self._worker.shutdown(timeout_s)
        if finished:
            self._shutdown_exporter()
            return True
        logger.warning(
            "genai_trace: %s did not finish within %.1fs; %d traces still being exported "
            "(lost if the process ends now), %d queued traces are dropped",
            self.name,
            timeout_s or 0.0,
            self._worker.in_flight,
            self._worker.dropped - left_before,
        )
        closer = threading.Thread(
            target=self._shutdown_exporter, name=f"{self.name} shutdown", daemon=True
        )
        try:
            closer.start()
        except RuntimeError:  # interpreter shutdown: the process is ending anyway
            pass
        return False

    def stop(self) -> None:
        """Let the thread export what is queued and exit, without waiting for it."""
        self._worker.stop()

    def mark(self) -> threading.Event | None:
        """Queue a flush marker (see :meth:`QueueWorker.mark`)."""
        return self._worker.mark()

    def wait(self, marker: threading.Event | None, timeout_s: float | None) -> bool:
        """Wait for a :meth:`mark`."""
        return self._worker.wait(marker, timeout_s)

    def _shutdown_exporter(self) -> None:
        for exporter in (self.exporter, *self.riders):
            try:
                exporter.shutdown()
            except Exception:
                log_internal_error(f"{self.name} shutdown")

    def _export(self, items: list[Trace | FeedbackDelivery]) -> None:
        if not self._feedback_seen:  # the common case: no scan of the batch
            self._export_traces(items)  # type: ignore[arg-type]  # traces only, by the flag
            return
        # Runs of traces and of feedback, in queue order: a feedback logged after its trace
        # completed reaches the exporter after the trace.
        run: list[Any] = []
        for item in items:
            if run and isinstance(item, FeedbackDelivery) is not isinstance(
                run[0], FeedbackDelivery
            ):
                self._export_run(run)
                run = []
            run.append(item)
        if run:
            self._export_run(run)

    def _export_run(self, run: list[Any]) -> None:
        if isinstance(run[0], FeedbackDelivery):
            self._export_feedback(run)
        else:
            self._export_traces(run)

    def _export_feedback(self, deliveries: list[FeedbackDelivery]) -> None:
        lost_before = getattr(self.exporter, "feedback_lost", 0)
        try:
            result = self.exporter.export_feedback(deliveries)  # type: ignore[attr-defined]
        except Exception:
            log_internal_error(f"{self.name} feedback")
            result = ExportResult.FAILURE
        # What the exporter counted as lost (an unknown trace) is neither exported nor failed.
        lost = getattr(self.exporter, "feedback_lost", 0) - lost_before
        if result is ExportResult.SUCCESS:
            self.feedback_exported += len(deliveries) - lost
        else:
            self.feedback_failed += len(deliveries) - lost
            if not getattr(self.exporter, "reports_own_failures", False):
                self.feedback_failure_warning.record(len(deliveries), self.name)

    def _export_traces(self, traces: list[Trace]) -> None:
        finalize_together(traces)  # whichever destination comes first; a no-op after
        for rider in self.riders:  # first: an exporter may let the views go mid-batch
            try:
                rider.export(traces)
            except Exception:
                log_internal_error(f"{self.name}: {type(rider).__name__}")
        try:
            result = self.exporter.export(traces)
        except Exception:
            log_internal_error(self.name)
            result = ExportResult.FAILURE
        # Traces the sampler dropped were neither sent nor lost.
        take_sampled_out = getattr(self.exporter, "take_sampled_out", None)
        sampled_out = int(take_sampled_out()) if take_sampled_out is not None else 0
        self.sampled_out += sampled_out
        handed_on = len(traces) - sampled_out
        # An exporter that lets each trace's views go as it finishes it (the local store,
        # mid-batch) says so; for the others, the batch is done here.
        if not getattr(self.exporter, "releases_views", False):
            for trace in traces:
                views_read(trace)
        if result is ExportResult.SUCCESS:
            # An exporter may refuse single traces and store the rest (the local store).
            take_rejected = getattr(self.exporter, "take_rejected", None)
            rejected = int(take_rejected()) if take_rejected is not None else 0
            self.exported += handed_on - rejected
            self.failed += rejected
        else:
            self.failed += handed_on
            if not getattr(self.exporter, "reports_own_failures", False):
                self.failure_warning.record(handed_on, self.name)


class RecentTraces:
    """The last N traces, for ``get_trace`` by trace id or by client request id.

    Adding is cheap on purpose (it runs once per trace): the key is the trace id as the
    OTel int, and nothing is read from the spans. A look-up by client request id, which is
    rare, checks the kept traces newest first.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        # Guards the map: threads completing traces write, any app thread reads.
        self._lock = threading.Lock()
        self._by_id: OrderedDict[int, DeferredTrace] = OrderedDict()

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock (another thread may have held it at the fork)."""
        self._lock = threading.Lock()

    def add(self, trace_id: int, trace: DeferredTrace) -> None:
        """Remember ``trace`` (a later part of the same trace id is merged in)."""
        if self._capacity == 0:
            return
        with self._lock:
            previous = self._by_id.pop(trace_id, None)
            if previous is not None:  # a late part: joined when first read, not here
                trace = MergedTrace(previous, trace)
            self._by_id[trace_id] = trace
            if len(self._by_id) > self._capacity:
                self._by_id.popitem(last=False)

    def forget(self, trace_id_or_request_id: str) -> None:
        """Drop a kept trace (edited or deleted in the store: look-ups must read the store)."""
        found = self.get(trace_id_or_request_id)
        with self._lock:
            for key, trace in list(self._by_id.items()):
                if trace is found:
                    del self._by_id[key]

    def get(self, trace_id_or_request_id: str) -> DeferredTrace | None:
        """Look a trace up by its trace id (32 hex digits), else by its client request id."""
        key = parse_trace_id(trace_id_or_request_id)
        with self._lock:
            if key is not None and key in self._by_id:
                return self._by_id[key]
            kept = list(reversed(self._by_id.values()))
        for trace in kept:
            if trace.client_request_id == trace_id_or_request_id:  # without building it
                return trace
        return None


class ExportPipeline:
    """Hands each completed trace to every destination's queue, never blocking the app."""

    def __init__(
        self,
        exporters: Sequence[TraceExporter],
        *,
        queue_size: int,
        recent_traces: int,
        keep_all_traces: bool,
        on_tick: Callable[[], None] | None = None,
        riders: Sequence[TraceExporter] = (),
    ) -> None:
        """The destinations of ``exporters``, and ``riders`` on the first one's thread.

        ``riders`` read every trace (see :attr:`Destination.riders`); with no destination,
        they get one of their own.
        """
        if riders and not exporters:
            exporters, riders = riders, ()
        self.destinations = [Destination(e, queue_size) for e in exporters]
        if riders:
            self.destinations[0].riders = tuple(riders)
        self.recent = RecentTraces(recent_traces)
        self.keep_all_traces = keep_all_traces
        self.completed = 0
        self.skipped_non_genai = 0
        self.feedback_submitted = 0
        self._counts_lock = threading.Lock()
        # Copy-on-write tuple: iterated without a lock.
        self._listeners: tuple[TraceListener, ...] = ()
        self._listeners_lock = threading.Lock()
        # No items ever: its thread only calls on_tick (the assembler's timeout sweep).
        self._ticker: QueueWorker[None] = QueueWorker(
            "genai_trace sweep", _no_items, max_queue=1, on_tick=on_tick
        )
        _PIPELINES.add(self)

    def submit(
        self,
        trace_id: int,
        spans: list[ReadableSpan],
        updates: TraceUpdates | None,
        incomplete_reason: str | None,
        dropped_spans: int,
        has_genai_span: bool,
    ) -> None:
        """Called as a trace completes, on the thread that ended it: queue it for each exporter.

        A few dict and deque operations: cheaper here than a hand-off to another thread.
        Never waits for an exporter (past ``worker.YIELD_AT`` queued traces it yields the GIL
        for a moment).
        """
        self._ticker.start()
        if not (
            has_genai_span
            or self.keep_all_traces
            or any(is_genai_span(s.attributes) for s in spans)
        ):
            with self._counts_lock:
                self.skipped_non_genai += 1
            return
        trace = DeferredTrace(
            spans, updates, incomplete_reason, dropped_spans, readers=len(self.destinations)
        )
        with self._counts_lock:  # app threads complete traces side by side
            self.completed += 1
        self.recent.add(trace_id, trace)
        listeners = self._listeners
        if listeners:
            completed_ns = time.monotonic_ns()
            for listener in listeners:
                try:
                    listener(trace, completed_ns)
                except Exception:
                    log_internal_error("trace listener")
        for destination in self.destinations:
            destination.put(trace)

    def submit_feedback(self, delivery: FeedbackDelivery) -> int:
        """Queue a feedback for each destination that takes feedback; return how many."""
        self._ticker.start()
        self.feedback_submitted += 1  # one int, no lock: only read as "was any logged"
        count = 0
        for destination in self.destinations:
            if destination.takes_feedback:
                destination.put_feedback(delivery)
                count += 1
        return count

    def add_listener(self, listener: TraceListener) -> None:
        """Call ``listener`` with every trace completed from now on."""
        with self._listeners_lock:
            self._listeners = (*self._listeners, listener)

    def remove_listener(self, listener: TraceListener) -> None:
        """Stop calling ``listener``."""
        with self._listeners_lock:
            self._listeners = tuple(x for x in self._listeners if x is not listener)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Export everything completed so far; ``False`` if time ran out."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        ok = True
        # Mark every destination, then wait: they drain side by side, and one that hangs
        # costs the others nothing.
        markers = [(d, d.mark()) for d in self.destinations]
        for destination, marker in markers:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ok = destination.wait(marker, left) and ok
        return ok

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """Flush within ``timeout_s``, then stop every thread and exporter. Idempotent.

        Returns ``False`` when time ran out; what was left is counted as dropped.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        self._ticker.stop()
        for destination in self.destinations:
            destination.stop()
        ok = True
        for destination in self.destinations:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ok = destination.shutdown(left) and ok
        return ok


def _no_items(batch: list[None]) -> None:
    pass


_PIPELINES: weakref.WeakSet[ExportPipeline] = weakref.WeakSet()


def reset_after_fork() -> None:
    """In a forked child: fresh locks (another thread may have held them at the fork).

    The workers are reset by ``worker.reset_workers_after_fork``.
    """
    for pipeline in list(_PIPELINES):
        pipeline.recent.reset_after_fork()
        pipeline._listeners_lock = threading.Lock()
        pipeline._counts_lock = threading.Lock()
