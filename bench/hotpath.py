"""Profile the caller-thread hot path of ``@genai_trace.trace``: ``python -m bench.hotpath``.

cProfile sees only the calling thread, which is what this is for: the export worker's
work is off the hot path by design. Costs are printed per traced call, in microseconds;
cProfile's own overhead inflates them (roughly 2-3x), so compare rows with each other,
not with the benchmark table.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys

import genai_trace
from bench import _workload
from bench._sinks import NoopTraceExporter


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hotpath")
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="tottime", choices=["tottime", "cumulative"])
    args = parser.parse_args(argv)

    genai_trace.configure(exporters=[NoopTraceExporter()])
    call = _workload.single(genai_trace.trace)
    for _ in range(2_000):
        call()
    genai_trace.flush(30)

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.calls):
        call()
    profiler.disable()
    genai_trace.flush(30)

    stats = pstats.Stats(profiler)
    rows = sorted(
        stats.stats.items(),  # type: ignore[attr-defined]  # pstats keeps it undocumented
        key=lambda item: item[1][2 if args.sort == "tottime" else 3],
        reverse=True,
    )
    total_us = sum(row[2] for _, row in rows) / args.calls * 1e6
    print(f"{args.calls:,} traced calls; {total_us:.1f} us per call under cProfile")
    print(f"{'own us':>8} {'cum us':>8} {'calls':>6}  function")
    for (path, line, name), (_, ncalls, tottime, cumtime, _) in rows[: args.top]:
        where = _short(path)
        print(
            f"{tottime / args.calls * 1e6:8.2f} {cumtime / args.calls * 1e6:8.2f} "
            f"{ncalls / args.calls:6.1f}  {where}:{line} {name}"
        )
    return 0


def _short(path: str) -> str:
    for marker in ("site-packages/", "genai_trace/", "bench/"):
        if marker in path:
            tail = path.split(marker, 1)[1]
            return tail if marker == "site-packages/" else marker + tail
    return path


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
