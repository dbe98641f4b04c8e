"""Ids: an app's ``random.seed(0)`` never makes trace or span ids repeat.

Not across processes started alike, not across forked children, not across threads.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable

import genai_trace
from genai_trace import Trace
from genai_trace.exporters import InMemoryTraceExporter
from tests.helpers.reliability.faults import WAIT_S, Child

Spawn = Callable[..., Child]


def all_ids(traces: list[Trace]) -> list[str]:
    return [t.info.trace_id for t in traces] + [s.span_id for t in traces for s in t.spans]


def test_processes_seeded_alike_never_repeat_ids(spawn: Spawn) -> None:
    script = """
        import json, random
        import genai_trace
        from genai_trace.exporters import InMemoryTraceExporter
        from tests.helpers.reliability.child_app import ids_of, work
        random.seed(0)  # what an app does for reproducible sampling
        memory = InMemoryTraceExporter()
        genai_trace.configure(exporters=[memory])
        for i in range(100):
            random.seed(0)
            work(i)
        assert genai_trace.flush(30)
        print(json.dumps(ids_of(memory.get_finished_traces())), flush=True)
        """
    processes = [spawn(script) for _ in range(4)]
    ids: list[str] = []
    for child in processes:
        ids += json.loads(child.read_line())
        assert child.finish() == ""
    assert len(ids) == 4 * (100 + 200)  # each trace: its id, and two spans
    assert len(set(ids)) == len(ids)


def test_forked_children_never_repeat_the_parents_ids(spawn: Spawn) -> None:
    child = spawn(
        """
        import json, os, random
        import genai_trace
        from genai_trace.exporters import InMemoryTraceExporter
        from tests.helpers.reliability.child_app import fork_with_threads, ids_of, work
        memory = InMemoryTraceExporter()
        genai_trace.configure(exporters=[memory])
        work(0)  # the id generator is in use before the forks
        r, w = os.pipe()
        pids = []
        for _ in range(3):
            pid = fork_with_threads()
            if pid == 0:
                os.close(r)
                random.seed(0)
                for i in range(50):
                    work(i)
                genai_trace.flush(30)
                os.write(w, (json.dumps(ids_of(memory.get_finished_traces())) + "\\n").encode())
                os._exit(0)
            pids.append(pid)
        os.close(w)
        random.seed(0)
        for i in range(50):
            work(i)
        assert genai_trace.flush(30)
        for pid in pids:
            os.waitpid(pid, 0)
        with os.fdopen(r) as lines:
            children = [json.loads(line) for line in lines]
        print(json.dumps([ids_of(memory.get_finished_traces()), *children]), flush=True)
        """
    )
    parent, *children = json.loads(child.read_line())
    assert child.finish() == ""
    assert len(children) == 3
    # The parent's first trace was exported before the forks, in the parent only.
    assert [len(ids) for ids in (parent, *children)] == [51 * 3, 50 * 3, 50 * 3, 50 * 3]
    ids = parent + [i for ids in children for i in ids]
    assert len(set(ids)) == len(ids)


def test_threads_that_seed_random_alike_never_repeat_ids(
    exporter: InMemoryTraceExporter,
) -> None:
    @genai_trace.trace
    def step(i: int) -> int:
        with genai_trace.start_span("inner"):
            return i

    start = threading.Barrier(8)

    def run() -> None:
        start.wait(WAIT_S)
        for i in range(200):
            random.seed(0)
            step(i)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert not any(thread.is_alive() for thread in threads)
    assert genai_trace.flush(WAIT_S)
    ids = all_ids(exporter.get_finished_traces())
    assert len(ids) == 8 * 200 * 3
    assert len(set(ids)) == len(ids)
