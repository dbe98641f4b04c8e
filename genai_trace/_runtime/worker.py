"""A bounded queue drained in batches by one daemon thread; the building block of export."""

from __future__ import annotations

import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

from genai_trace._errors import log_internal_error

T = TypeVar("T")

_WORKERS: weakref.WeakSet[QueueWorker[object]] = weakref.WeakSet()

WAKE_AT = 512
"""Items queued that wake the thread before its timer (or the batch size, if less)."""
YIELD_AT = 2048
"""Items queued past which a producer yields the GIL to the thread before adding one more.

Every item waiting in a queue is objects the garbage collector walks at each full
collection, on whichever thread triggers it, the app's included: behind a store slower than
a flat-out loop, 10,000 queued traces made each one take some 50 ms. Past this many, the
queue's growth is slowed instead; it still takes items up to its bound."""


_HAND_OVER_S = 0.0 if sys.version_info >= (3, 11) else 1e-6
"""A sleep that hands the GIL to a thread waiting for it. From Python 3.11 ``sleep(0)`` is
a ``clock_nanosleep`` that does; 3.10's is a ``select`` with no timeout that takes the GIL
straight back (the waiting thread got it 6 times in 100): the shortest real sleep does."""


class _FlushMarker:
    """Put in the queue by ``flush``; the worker sets it once everything before it is done."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class QueueWorker(Generic[T]):
    """Producers ``put`` items without blocking; one thread hands them to ``handle`` in batches.

    The queue is bounded: past ``max_queue`` items ``put`` drops the item, counts it and
    returns ``False``. The thread wakes every ``delay_s`` seconds, or sooner once
    ``wake_at`` items wait, so a producer pays no thread hand-off per item.
    """

    def __init__(
        self,
        name: str,
        handle: Callable[[list[T]], None],
        *,
        max_queue: int,
        max_batch: int = 512,
        delay_s: float = 0.2,
        on_tick: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self._handle = handle
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._wake_at = max(1, min(max_batch, max_queue // 2, WAKE_AT))
        self._yield_at = max(self._wake_at, min(max_queue // 2, YIELD_AT))
        self._delay_s = delay_s
        self._on_tick = on_tick
        self.dropped = 0
        self._reset()
        _WORKERS.add(self)  # type: ignore[arg-type]  # the set only needs reset_after_fork

    def _reset(self) -> None:
        # deque append/popleft are atomic under the GIL: producers never take a lock.
        self._queue: deque[T | _FlushMarker] = deque()
        self._wake = threading.Event()
        # Guards thread start/stop and the drop counter; never held while handling items.
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._handling = False  # True while ``handle`` runs (read without the lock)
        self._in_flight = 0  # items of the batch ``handle`` is running on (idem)

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's queue (the parent exports it) and thread."""
        self._reset()

    def put(self, item: T) -> bool:
        """Queue ``item``; ``False`` when the queue is full or the worker was shut down.

        Past :data:`YIELD_AT` items (or half the queue, if less), the caller hands the GIL
        to the worker for a moment first (backpressure): a CPU-bound exporter behind a
        thread producing flat out gets its
        share of the interpreter before anything is dropped. A worker that is not waiting
        for the GIL (blocked on a hung backend) costs this a sleep of some 70 µs (the
        kernel's timer slack: wall time, not CPU) until the queue is full.
        """
        queued = len(self._queue)
        if self._stopped or queued >= self._max_queue:
            with self._lock:
                self.dropped += 1
            return False
        self._queue.append(item)
        if self._thread is None:
            self._start()
        if queued + 1 >= self._wake_at and not self._wake.is_set():
            self._wake.set()
        if queued >= self._yield_at:
            time.sleep(_HAND_OVER_S)
        return True

    def __len__(self) -> int:
        return sum(1 for item in list(self._queue) if not isinstance(item, _FlushMarker))

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every item put before this call was handled; ``False`` on timeout."""
        return self.wait(self.mark(), timeout_s)

    def mark(self) -> threading.Event | None:
        """Queue a flush marker; its event is set once everything put before it is handled.

        ``None`` when there is no thread to do it (never started, or after fork): what is
        queued is handled here, at once. Marking every worker first and then waiting lets
        them work at the same time under one deadline.
        """
        if self._thread is None or not self._thread.is_alive():
            if self._queue and not self._stopped:
                self._drain()
            return None
        marker = _FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        return marker.done

    def wait(self, marker: threading.Event | None, timeout_s: float | None) -> bool:
        """Wait for a :meth:`mark`; ``False`` when ``timeout_s`` ran out first."""
        if marker is None:
            return not self._queue
        return marker.wait(timeout_s)

    def stop(self) -> None:
        """Ask the thread to handle what is queued and then exit; returns at once."""
        with self._lock:
            self._stopped = True
        self._wake.set()

    def shutdown(self, timeout_s: float | None = None) -> bool:
        """Handle what is queued (within ``timeout_s``), then stop the thread. Idempotent.

        Returns ``False`` when time ran out with items unhandled (``handle`` blocked, say on
        a hanging backend); those are counted in :attr:`dropped`, since nothing will handle
        them any more. The thread is a daemon: it cannot hold process exit.
        """
        self.stop()
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._drain()  # no thread (never started, or after fork): do it here
            return True
        thread.join(timeout_s)
        if not thread.is_alive() or not (self._queue or self._handling):
            return True
        with self._lock:
            left = len(self)
            self.dropped += left
            self._queue.clear()
        return False

    @property
    def in_flight(self) -> int:
        """Items taken from the queue that ``handle`` has not finished with."""
        return self._in_flight

    @property
    def busy(self) -> bool:
        """Whether the thread is running (after :meth:`stop`: still handling items)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the thread now rather than at the first item (for a worker used as a ticker)."""
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None or self._stopped:
                return
            thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            try:
                thread.start()
            except RuntimeError:
                # "can't create new thread at interpreter shutdown" (Python 3.12+, from an
                # atexit flush): stay thread-less; flush and shutdown drain inline.
                return
            self._thread = thread

    def _run(self) -> None:
        while True:
            self._wake.wait(self._delay_s)
            self._wake.clear()
            self._drain()
            if self._on_tick is not None:
                try:
                    self._on_tick()
                except Exception:
                    log_internal_error(f"{self.name} tick")
            if self._stopped and not self._queue:
                return

    def _drain(self) -> None:
        queue, most = self._queue, self._max_batch
        batch: list[T] = []
        while queue:
            taken: list[T | _FlushMarker] = []
            try:  # at most what fits the batch: items put meanwhile wait for the next one
                for _ in range(min(len(queue), most - len(batch))):
                    taken.append(queue.popleft())
            except IndexError:  # drained concurrently by a flush on a thread-less worker
                pass
            if _FlushMarker in set(map(type, taken)):  # rare; the type scan runs in C
                batch = self._take_with_markers(batch, taken)
            else:
                batch += taken  # type: ignore[arg-type]  # no marker among them
            if len(batch) >= most:
                self._handle_batch(batch)
                batch = []
        self._handle_batch(batch)

    def _take_with_markers(self, batch: list[T], taken: list[T | _FlushMarker]) -> list[T]:
        """Add ``taken`` to ``batch``; at each flush marker, handle the batch and set it."""
        for item in taken:
            if isinstance(item, _FlushMarker):
                self._handle_batch(batch)
                batch = []
                item.done.set()
            else:
                batch.append(item)
        return batch

    def _handle_batch(self, batch: list[T]) -> None:
        if not batch:
            return
        self._handling = True
        self._in_flight = len(batch)
        try:
            self._handle(batch)
        except Exception:
            log_internal_error(self.name)
        finally:
            self._handling = False
            self._in_flight = 0


def reset_workers_after_fork() -> None:
    """In a forked child: every worker starts over (its thread did not survive the fork)."""
    for worker in list(_WORKERS):
        worker.reset_after_fork()
