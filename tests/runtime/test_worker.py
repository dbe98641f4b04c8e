"""The export queue hands items over in order, in batches no larger than asked, and a flush
marker is set only once everything queued before it was handled."""

from __future__ import annotations

import threading
import time

from genai_trace._runtime.worker import QueueWorker, _FlushMarker


def test_a_drain_keeps_order_and_batch_size_and_sets_a_marker_after_what_came_before() -> None:
    handled: list[tuple[list[int], bool]] = []
    marker = _FlushMarker()
    worker: QueueWorker[int] = QueueWorker(
        "test", lambda batch: handled.append((list(batch), marker.done.is_set())), max_queue=100,
        max_batch=3,
    )  # fmt: skip
    worker._queue.extend([1, 2, marker, 3, 4, 5, 6, 7])  # as put and mark queue them

    worker._drain()

    assert handled == [([1, 2], False), ([3, 4, 5], True), ([6, 7], True)]
    assert not worker._queue


def test_items_put_from_threads_all_arrive_once_in_each_producers_order() -> None:
    batches: list[list[tuple[int, int]]] = []
    worker: QueueWorker[tuple[int, int]] = QueueWorker(
        "test", batches.append, max_queue=100_000, max_batch=64, delay_s=0.001
    )

    def produce(producer: int) -> None:
        for i in range(5_000):
            assert worker.put((producer, i))
            if i % 1_000 == 0:
                assert worker.flush(10)

    threads = [threading.Thread(target=produce, args=(p,)) for p in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert worker.flush(10)
    worker.shutdown(10)

    assert all(0 < len(batch) <= 64 for batch in batches)
    seen = [item for batch in batches for item in batch]
    assert len(seen) == 15_000
    for producer in range(3):
        assert [i for p, i in seen if p == producer] == list(range(5_000))


def test_each_put_past_the_yield_point_lets_a_worker_busy_in_python_run() -> None:
    # Backpressure: a worker busy in Python (an exporter encoding, building rows) waits for
    # the GIL, and a put past the yield point must hand it over, or a flat-out loop outruns
    # the worker until its queue is full. Python 3.10's sleep(0) did not: the worker ran
    # after 6 puts in 100 (tests/runtime/test_destinations.py shows the drops that made).
    spins = [0]
    stop = threading.Event()

    def spin(batch: list[int]) -> None:  # holds the GIL but for the interpreter's switches
        while not stop.is_set():
            spins[0] += 1

    worker: QueueWorker[int] = QueueWorker("test", spin, max_queue=1_000, max_batch=1)
    try:
        assert worker.put(-1)
        deadline = time.monotonic() + 10
        while spins[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.001)
        for i in range(worker._yield_at):  # up to the yield point: no hand-over
            assert worker.put(i)
        handed_over = 0
        for i in range(40):
            before = spins[0]
            assert worker.put(i)
            handed_over += spins[0] != before
        assert handed_over >= 32, f"the worker ran after {handed_over} of 40 puts"
    finally:
        stop.set()
        worker.shutdown(10)
