"""Traces made in processes that ``multiprocessing`` starts reach the store.

Forked workers end through ``os._exit``, where ``atexit`` never runs: each test runs a real
parent that starts real workers, then reads the local store.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from genai_trace.store import SQLiteTraceStore, TraceQuery
from tests.helpers.reliability.faults import Child

Spawn = Callable[..., Child]

JOBS = 200

# Each runs jobs 0..199 in 4 workers of multiprocessing context `ctx`, the way apps do.
RUN_JOBS = {
    "Process": """
        workers = [ctx.Process(target=jobs, args=(range(k, 200, 4),)) for k in range(4)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        assert [worker.exitcode for worker in workers] == [0] * 4
    """,
    "with Pool.map, close, join": """
        with ctx.Pool(4) as pool:
            assert pool.map(job, range(200)) == [i * 2 for i in range(200)]
            pool.close()  # else leaving the block terminates the workers (SIGTERM)
            pool.join()
    """,
    "Pool.map, close, join": """
        pool = ctx.Pool(4)
        assert pool.map(job, range(200)) == [i * 2 for i in range(200)]
        pool.close()
        pool.join()
    """,
    "ProcessPoolExecutor": """
        with ProcessPoolExecutor(4, mp_context=ctx) as executor:
            assert list(executor.map(job, range(200), chunksize=10)) == [i * 2 for i in range(200)]
    """,
}

# spawn and forkserver start a fresh interpreter per worker: seconds each.
START_METHODS = [
    "default",
    "fork",
    pytest.param("spawn", marks=pytest.mark.slow),
    pytest.param("forkserver", marks=pytest.mark.slow),
]


def parent_script(run_jobs: str, start_method: str, parent_traces: bool) -> str:
    context = (
        "multiprocessing.get_context()"
        if start_method == "default"
        else f"multiprocessing.get_context({start_method!r})"
    )
    body = "\n".join("    " + line for line in _dedent(run_jobs).splitlines())
    return f"""
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
import genai_trace
from tests.helpers.reliability.child_app import job, jobs

if __name__ == "__main__":
    ctx = {context}
    if {parent_traces!r}:
        with genai_trace.start_span("parent"):  # the workers inherit a live runtime
            pass
{body}
    print(ctx.get_start_method(), flush=True)
"""


def _dedent(text: str) -> str:
    return textwrap.dedent(text).strip("\n")


def stored(db: Path) -> list[tuple[str, int]]:
    """``(root name, span count)`` of every trace in the store, sorted."""
    infos = SQLiteTraceStore(db).search(TraceQuery(limit=10 * JOBS))
    return sorted((info.name, info.span_count) for info in infos)


def expected_jobs() -> list[tuple[str, int]]:
    return sorted((f"job-{i}", 2) for i in range(JOBS))


@pytest.mark.parametrize("start_method", START_METHODS)
@pytest.mark.parametrize("api", list(RUN_JOBS))
def test_every_worker_trace_reaches_the_store(
    spawn: Spawn, tmp_path: Path, api: str, start_method: str
) -> None:
    db = tmp_path / "traces.db"
    child = spawn(
        parent_script(RUN_JOBS[api], start_method, parent_traces=True),
        env={"GENAI_TRACE_DB": str(db)},
    )
    used = child.read_line(timeout_s=120)
    stderr = child.finish()
    assert child.returncode == 0, stderr
    assert "genai_trace" not in stderr
    if start_method == "default" and sys.version_info < (3, 14):
        assert used == "fork"  # Linux's default before 3.14: the case that lost every trace
    assert stored(db) == sorted([("parent", 1), *expected_jobs()])


@pytest.mark.parametrize("api", ["with Pool.map, close, join", "ProcessPoolExecutor"])
def test_workers_of_a_parent_that_never_traced_configure_and_flush_themselves(
    spawn: Spawn, tmp_path: Path, api: str
) -> None:
    db = tmp_path / "traces.db"
    child = spawn(
        parent_script(RUN_JOBS[api], "fork", parent_traces=False),
        env={"GENAI_TRACE_DB": str(db)},
    )
    assert child.read_line(timeout_s=120) == "fork"
    stderr = child.finish()
    assert child.returncode == 0, stderr
    assert "genai_trace" not in stderr
    assert stored(db) == expected_jobs()


def test_a_forked_worker_that_cannot_export_in_time_says_so(spawn: Spawn, tmp_path: Path) -> None:
    out = tmp_path / "exported.txt"
    child = spawn(
        f"""
        import multiprocessing, threading
        import genai_trace
        from tests.helpers.reliability.child_app import FileExporter, jobs

        if __name__ == "__main__":
            never = threading.Event()  # the exporter waits for it: a backend that hangs
            genai_trace.configure(
                exporters=[FileExporter({str(out)!r}, gate=never)], exit_flush_timeout_s=0.5
            )
            worker = multiprocessing.get_context("fork").Process(target=jobs, args=([1, 2],))
            worker.start()
            worker.join(60)
            print(worker.exitcode, flush=True)
            never.set()
        """
    )
    assert child.read_line() == "0"
    stderr = child.finish()
    assert child.returncode == 0
    assert (
        "genai_trace: pending traces were not all exported within 0.5s at exit "
        "(exit_flush_timeout_s)" in stderr
    )


def test_a_terminated_worker_exports_what_completed_and_reports_what_was_open(
    spawn: Spawn, tmp_path: Path
) -> None:
    db = tmp_path / "traces.db"
    child = spawn(
        """
        import multiprocessing, time
        import genai_trace
        from tests.helpers.reliability.child_app import job

        def work(ready):
            genai_trace.flush_on_exit_signals()
            job(1)
            with genai_trace.start_span("interrupted"):
                ready.set()
                time.sleep(60)

        if __name__ == "__main__":
            ctx = multiprocessing.get_context("fork")
            ready = ctx.Event()
            worker = ctx.Process(target=work, args=(ready,))
            worker.start()
            assert ready.wait(60)
            worker.terminate()
            worker.join(60)
            print(worker.exitcode, flush=True)
        """,
        env={"GENAI_TRACE_DB": str(db)},
    )
    assert child.read_line() == "-15"  # it still ends as SIGTERM ends a process
    stderr = child.finish()
    assert child.returncode == 0
    assert stored(db) == [("job-1", 2)]
    assert (
        "genai_trace: 1 traces still open when a signal stopped the process are not exported"
        in stderr
    )
