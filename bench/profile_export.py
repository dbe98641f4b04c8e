"""Where genai-trace's export-side CPU goes: cProfile on each destination's worker thread.

``python -m bench.profile_export [otlp|store|both] [SHAPE] [SPANS] [--plain]`` starts the bench's
receiver, runs the end-to-end row's loop (as ``python -m bench`` does) with every
destination's export call profiled on its own thread, and prints the top functions by
cumulative and by own time, per destination. The caller's thread is not profiled: this is
the work the end-to-end table adds over the caller-thread cost.

cProfile inflates many small calls more than few large ones: read shares, not µs.
``--plain`` runs the same loop unprofiled, for a sampling profiler outside, e.g.
``py-spy record --threads --format raw -o out.txt -- python -m bench.profile_export otlp 1
44000 --plain`` (the export threads are named ``genai_trace export: ...``).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import sys
import tempfile
import threading
from typing import Any

from bench import _workload
from bench._harness import receiver

ROWS = {
    "otlp": lambda url: {"otlp_endpoint": url, "local_store": False},
    "store": lambda url: {},
    "both": lambda url: {"otlp_endpoint": url},
}


def profile(row: str, shape: str, spans: int, plain: bool = False) -> dict[str, cProfile.Profile]:
    import genai_trace
    from genai_trace._runtime import pipeline

    profiles: dict[str, cProfile.Profile] = {}
    lock = threading.Lock()
    original = pipeline.Destination._export

    def profiled(self: Any, traces: list[Any]) -> None:
        with lock:
            profiler = profiles.setdefault(self.name, cProfile.Profile())
        profiler.enable()
        try:
            original(self, traces)
        finally:
            profiler.disable()

    if not plain:
        pipeline.Destination._export = profiled  # type: ignore[method-assign]
    with receiver() as url:
        genai_trace.configure(**ROWS[row](url))
        make, per_call = _workload.SHAPES[shape]
        call = make(genai_trace.trace)
        for _ in range(max(1, spans // per_call)):
            call()
        genai_trace.flush(120)
    return profiles


def report(profiles: dict[str, cProfile.Profile], top: int = 25) -> str:
    out = io.StringIO()
    for name, profiler in profiles.items():
        stats = pstats.Stats(profiler, stream=out)
        out.write(f"\n===== {name}: by cumulative time =====\n")
        stats.sort_stats("cumulative").print_stats(top)
        out.write(f"\n===== {name}: by own time =====\n")
        stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main(argv: list[str]) -> int:
    plain = "--plain" in argv
    argv = [a for a in argv if a != "--plain"]
    row = argv[0] if argv else "otlp"
    shape = argv[1] if len(argv) > 1 else "1"
    spans = int(argv[2]) if len(argv) > 2 else 11_000
    with tempfile.TemporaryDirectory(prefix="genai-trace-profile-") as workdir:
        os.chdir(workdir)  # the store's database lands in the scratch dir
        print(report(profile(row, shape, spans, plain)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
