"""What garbage collection costs a flat-out loop: ``python -m bench.gc_share [DEST] [SHAPE]``.

Runs a shape of the bench's workload (``SHAPE``: ``1``, the default, one span a call;
``prompt``, one span with a chat's payloads; see ``bench/_workload.py``), 11,000 calls after
1,100 of warm-up, into the local store (``DEST``: ``store``, the default), OTLP to the
bench's receiver (``otlp``), both (``both``) or no destination (``none``), and times every
collection with ``gc.callbacks`` on the thread that ran it (``time.thread_time``): per
generation, how many and their CPU per span, the objects the full (generation 2)
collections walked, and the loop's process CPU per span beside it. Queued traces are
objects every full collection walks: this shows what a queue's length costs.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import tempfile
import time
from typing import Any

from bench import _workload
from bench._harness import receiver

SPANS = 11_000


def main(argv: list[str]) -> int:
    destination = argv[0] if argv else "store"
    shape = argv[1] if len(argv) > 1 else "1"
    os.chdir(tempfile.mkdtemp(prefix="genai-trace-gc-"))
    import genai_trace

    with contextlib.ExitStack() as stack:
        if destination in ("otlp", "both"):
            url = stack.enter_context(receiver())
            genai_trace.configure(otlp_endpoint=url, local_store=destination == "both")
        elif destination == "store":
            genai_trace.configure()
        else:
            genai_trace.configure(local_store=False, exporters=[], metrics=False)
        return _measure(destination, shape)


def _measure(destination: str, shape: str) -> int:
    import genai_trace

    make, _ = _workload.SHAPES[shape]
    call = make(genai_trace.trace)
    for _ in range(SPANS // 10):
        call()
    genai_trace.flush()

    counts = [0, 0, 0]
    seconds = [0.0, 0.0, 0.0]
    walked: list[int] = []
    started: dict[int, float] = {}

    def timed(phase: str, info: dict[str, Any]) -> None:
        generation = info["generation"]
        if phase == "start":
            if generation == 2:
                walked.append(sum(len(gc.get_objects(g)) for g in range(3)))
            started[generation] = time.thread_time()
        elif generation in started:
            counts[generation] += 1
            seconds[generation] += time.thread_time() - started.pop(generation)

    gc.callbacks.append(timed)
    start = time.process_time()
    for _ in range(SPANS):
        call()
    genai_trace.flush()
    cpu = time.process_time() - start
    gc.callbacks.remove(timed)
    print(f"{destination}: {cpu / SPANS * 1e6:.1f} µs CPU a span, loop plus flush")
    for generation in range(3):
        print(
            f"  generation {generation}: {counts[generation]} collections, "
            f"{seconds[generation] / SPANS * 1e6:.2f} µs a span"
        )
    print(f"  objects tracked at each full collection: {walked}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
