"""An agent fans out to a thread pool, a thread, a Thread subclass and a Timer.

Run by scripts/check_installs.sh in fresh venvs, and by tests/test_threads.py. Prints each
trace as a sorted list of ``[span name, parent name]`` (JSON, one trace a line) and, with
``--check``, exits 1 unless that is the one trace with every task under ``agent``.

``--contrib before|after`` also turns on the contrib ``ThreadingInstrumentor`` before or
after genai-trace is configured (the two must coexist without changing any parent).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import genai_trace
from genai_trace.exporters import InMemoryTraceExporter

EXPECTED = sorted(
    [["agent", None]]
    + [[f"pool-{i}", "agent"] for i in range(4)]
    + [["thread", "agent"], ["subclass", "agent"], ["timer", "agent"]]
)


@genai_trace.trace
def task(name: str) -> str:
    with genai_trace.start_span(name):
        return name


class Worker(threading.Thread):
    def run(self) -> None:
        task("subclass")


@genai_trace.trace
def agent() -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(task, [f"pool-{i}" for i in range(4)]))
    threads = [
        threading.Thread(target=task, args=("thread",)),
        Worker(),
        threading.Timer(0, task, args=("timer",)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _contrib() -> None:
    from opentelemetry.instrumentation.threading import ThreadingInstrumentor

    ThreadingInstrumentor().instrument()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contrib", choices=("before", "after"))
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.contrib == "before":
        _contrib()
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter])
    if args.contrib == "after":
        _contrib()
    agent()
    genai_trace.flush(10)
    traces = [_links(trace) for trace in exporter.get_finished_traces()]
    for links in sorted(traces):
        print(json.dumps(links))
    if args.check and traces != [EXPECTED]:
        print(f"FAIL: expected one trace {EXPECTED}", file=sys.stderr)
        return 1
    return 0


def _links(trace: genai_trace.Trace) -> list[list[str | None]]:
    """``[name, parent name]`` per span; the ``task`` wrappers are skipped for brevity."""
    names = {span.span_id: span.name for span in trace.spans}
    by_id = {span.span_id: span for span in trace.spans}
    links = []
    for span in trace.spans:
        if span.name == "task":
            continue
        parent = by_id.get(span.parent_id or "")
        while parent is not None and parent.name == "task":
            parent = by_id.get(parent.parent_id or "")
        links.append([span.name, names[parent.span_id] if parent else None])
    return sorted(links, key=lambda link: (link[0], link[1] or ""))


if __name__ == "__main__":
    sys.exit(main())
