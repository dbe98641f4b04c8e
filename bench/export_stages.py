"""The export side's stages, one at a time: ``python -m bench.export_stages [SHAPE] [TRACES]``.

The end-to-end table (``python -m bench``) gives what a deployment pays in all; this gives
where the export threads' share of it goes. It records ``TRACES`` traces of the bench's
workload (``1``: one span each, ``11``: a root and ten children) with a sink that keeps
them unread, then runs each stage of the export path over all of them on this thread, with
no other thread competing, and prints CPU per span (``time.process_time``, the best of
``--reps`` runs, the garbage collector off while timed):

- ``finalize``: each trace's span views, waiting payloads looked at for secrets a group of
  traces at a time, as a destination's thread does first;
- ``facts``: the trace's facts (``TraceInfo``) from its views;
- ``otlp: spans``: the default dialect's attributes and the check that each span may be
  sent as it is;
- ``otlp: encode``: the OTLP/protobuf request, 512 traces a request;
- ``store: write``: the whole store export (finalize and facts included, SQLite too), to a
  new file each run, 2,048 traces a transaction.

Stages that the checked-out commit does not have are skipped, so the same command measures
each step of a change. Single-threaded figures are lower than the end-to-end table's share
of the export threads (which compete with the app for the GIL and the cores): compare them
with each other, not with the table.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench import _workload


class _Keep:
    """A sink that keeps each trace's parts as the pipeline handed them over, unread."""

    def __init__(self) -> None:
        self.parts: list[tuple[Any, ...]] = []

    def export(self, traces: list[Any]) -> Any:
        import genai_trace

        self.parts.extend(trace.parts for trace in traces)
        return genai_trace.ExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def _recorded(shape: str, count: int) -> list[tuple[Any, ...]]:
    import genai_trace

    sink = _Keep()
    genai_trace.configure(exporters=[sink], local_store=False, metrics=False)
    make, _ = _workload.SHAPES[shape]
    call = make(genai_trace.trace)
    for _ in range(count):
        call()
    genai_trace.flush()
    return sink.parts


def _best(run: Callable[[], object], reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        gc.collect()
        gc.disable()
        start = time.process_time()
        try:
            run()
        finally:
            elapsed = time.process_time() - start
            gc.enable()
        best = min(best, elapsed)
    return best


def stages(parts: list[tuple[Any, ...]]) -> dict[str, Callable[[], object]]:
    """Each stage as a function over all the recorded traces (fresh traces each call)."""
    from opentelemetry.sdk.resources import Resource

    from genai_trace._runtime import deferred
    from genai_trace.exporters import _otlp_wire, otlp
    from genai_trace.store import writer

    def fresh() -> list[Any]:
        return [deferred.DeferredTrace(*p) for p in parts]

    together = getattr(deferred, "finalize_together", None)

    def finalized() -> list[Any]:
        traces = fresh()
        if together is not None:
            for start in range(0, len(traces), 512):
                together(traces[start : start + 512])
        for trace in traces:
            trace.span_views()
        return traces

    ready = finalized()
    for trace in ready:
        trace.view_info()
    resource = Resource.create({})
    sent = [span for trace in ready for span in (otlp._from_views(trace) or [])]
    scope = getattr(otlp, "record_scope", None)

    def encode() -> None:
        for start in range(0, len(sent), 512):
            _otlp_wire.encode_request(resource, sent[start : start + 512], scope)

    finalized_for_facts = finalized()

    def facts() -> None:
        for trace in finalized_for_facts:
            object.__setattr__(trace, "_info", None)
            trace.view_info()

    def write() -> None:
        with tempfile.TemporaryDirectory(prefix="genai-trace-stages-") as scratch:
            store = writer.SQLiteTraceStore(os.path.join(scratch, "traces.db"))
            traces = finalized()
            for start in range(0, len(traces), 2048):
                store.export(traces[start : start + 2048])
            store.shutdown()

    return {
        "finalize": finalized,
        "facts": facts,
        "otlp: spans": lambda: [otlp._from_views(trace) for trace in ready],
        "otlp: encode": encode,
        "store: write (finalize included)": write,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.export_stages")
    parser.add_argument("shape", nargs="?", default="1", choices=sorted(_workload.SHAPES))
    parser.add_argument("traces", nargs="?", type=int, default=4000)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="genai-trace-stages-") as scratch:
        os.chdir(scratch)
        parts = _recorded(args.shape, args.traces)
        spans = sum(len(p[0]) for p in parts)
        print(f"{len(parts):,} traces of {spans // len(parts)} spans; CPU per span, best of "
              f"{args.reps}, one thread")  # fmt: skip
        for name, run in stages(parts).items():
            seconds = _best(run, args.reps)
            print(f"  {name:34s} {seconds / spans * 1e6:7.2f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
