"""The local store's cost as it grows: ``python -m bench.store_growth [--runs N] [ROW ...]``.

Runs each store row (default: ``genai_store``, genai-trace's own provider and trace ids, and
``genai_store_app_ids``, an app's own TracerProvider with the SDK's random ids) ``--runs``
times, each run in an interpreter of its own and all into one store file: each run adds
12,100 traces (1,100 of warm-up) to what the runs before it wrote. Prints each run's CPU a
call, one trace (loop plus flush, every thread), the caller thread's, the wall time, the
bytes the process wrote a call (``/proc/self/io``: the store's WAL and checkpoints, free of
the machine's noise), and the store's size after it. The default table (``python -m
bench``) writes its three repetitions of the store row into one file too: a cost that grows
with the store shows there as a spread between repetitions.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from bench._harness import receiver, row_dir, run_row

DEFAULT_ROWS = ("genai_store", "genai_store_app_ids")


def _size_mb(directory: str) -> float:
    return sum(
        os.path.getsize(os.path.join(folder, name))
        for folder, _, names in os.walk(directory)
        for name in names
    ) / (1 << 20)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.store_growth")
    parser.add_argument("rows", nargs="*", default=list(DEFAULT_ROWS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--spans", type=int, default=11_000)
    args = parser.parse_args(argv)
    with receiver() as url:
        for row in args.rows:
            print(f"{row}: {args.runs} runs into one store")
            with tempfile.TemporaryDirectory(prefix="genai-trace-growth-") as workdir:
                for run in range(1, args.runs + 1):
                    result = run_row(row, "1", url, workdir, args.spans, 1)
                    if result.get("status") != "ok" or result.get("lost_spans"):
                        print(f"  run {run}: {result.get('status')} {result.get('reason', '')}")
                        return 1
                    size = _size_mb(row_dir(workdir, row, "1"))
                    print(f"  run {run}: CPU {result['cpu_us']:5.1f} µs a call, caller "
                          f"{result['caller_us']:4.1f}, wall {result['wall_us']:5.1f}, "
                          f"written {result['written_bytes_per_span']:6.0f} B a call, "
                          f"store {size:5.1f} MiB")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
