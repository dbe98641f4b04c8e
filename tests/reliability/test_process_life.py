"""Process life, in real child processes: exit, fork, shutdown, SIGTERM.

Each child writes ``pid name trace_id`` per exported trace to a shared file
(``child_app.FileExporter``), so a test can say which process exported what, and how often.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from faults import Child, FaultyBackend, Hang, exported_lines

SLACK_S = 10.0
"""Added to a promised bound before a test calls it broken: the machine is shared."""

Spawn = Callable[..., Child]


def test_normal_exit_exports_pending_traces(spawn: Spawn, tmp_path: Path) -> None:
    out = tmp_path / "exported.txt"
    child = spawn(
        f"""
        import genai_trace
        from child_app import FileExporter, work

        genai_trace.configure(exporters=[FileExporter({str(out)!r})])
        for i in range(50):
            work(i)
        # no flush: exit must do it
        """
    )
    assert child.finish() == ""
    assert child.returncode == 0
    rows = exported_lines(out)
    assert [name for _, name, _ in rows] == ["work"] * 50
    assert len({trace_id for _, _, trace_id in rows}) == 50


def test_exit_with_a_hanging_backend_waits_at_most_exit_flush_timeout_s(
    spawn: Spawn, backend: FaultyBackend
) -> None:
    backend.default = Hang()
    child = spawn(
        f"""
        import time
        import genai_trace
        from genai_trace.exporters.otlp import OTLPTraceExporter
        from child_app import work

        genai_trace.configure(
            exporters=[OTLPTraceExporter({backend.endpoint!r}, timeout_s=600)],
            exit_flush_timeout_s=1.0,
        )
        work(1)
        genai_trace.flush(timeout_s=0.1)  # sends the request; the backend holds it
        work(2)                           # queued behind it
        print(time.time(), flush=True)
        """
    )
    exiting_at = float(child.read_line())
    backend.wait_for(1, hanging=1)
    stderr = child.finish()
    assert child.returncode == 0
    assert time.time() - exiting_at < 1.0 + SLACK_S
    assert backend.hanging == 1  # still holding the request: exit did not wait for it
    assert "pending traces were not all exported within 1.0s at exit" in stderr
    assert "1 queued traces are dropped" in stderr


def test_a_forked_child_traces_on_its_own_and_nothing_is_exported_twice(
    spawn: Spawn, tmp_path: Path
) -> None:
    out = tmp_path / "exported.txt"
    child = spawn(
        f"""
        import os, sys, threading
        import genai_trace
        from genai_trace import _runtime
        from child_app import FileExporter, work

        gate = threading.Event()
        genai_trace.configure(exporters=[FileExporter({str(out)!r}, gate=gate)])

        @genai_trace.trace
        def before_fork(): return work(1)

        @genai_trace.trace
        def in_child(): return work(2)

        @genai_trace.trace
        def after_fork(): return work(3)

        before_fork()
        pid = os.fork()
        if pid == 0:
            gate.set()
            in_child()
            sys.exit(0)  # a normal exit: the child's atexit flush exports its trace
        _, status = os.waitpid(pid, 0)
        gate.set()
        after_fork()
        assert genai_trace.flush(30)
        print(os.getpid(), pid, os.waitstatus_to_exitcode(status), flush=True)
        """
    )
    parent_pid, child_pid, child_exit = map(int, child.read_line().split())
    assert child.finish() == ""
    assert (child.returncode, child_exit) == (0, 0)
    rows = exported_lines(out)
    assert sorted((pid, name) for pid, name, _ in rows) == sorted(
        [(parent_pid, "before_fork"), (parent_pid, "after_fork"), (child_pid, "in_child")]
    )
    assert len({trace_id for _, _, trace_id in rows}) == 3


def test_a_forked_child_never_writes_on_the_parents_backend_connection(
    spawn: Spawn, backend: FaultyBackend
) -> None:
    child = spawn(
        f"""
        import os
        import genai_trace
        from genai_trace.exporters.otlp import OTLPTraceExporter

        genai_trace.configure(exporters=[OTLPTraceExporter({backend.endpoint!r}, timeout_s=30)])

        @genai_trace.trace
        def step(where): return where

        step("parent")
        assert genai_trace.flush(30)  # the parent now holds a keep-alive connection
        pid = os.fork()
        if pid == 0:
            step("child")
            os._exit(0 if genai_trace.flush(30) else 3)
        _, status = os.waitpid(pid, 0)
        step("parent again")
        assert genai_trace.flush(30)
        print(os.waitstatus_to_exitcode(status), flush=True)
        """
    )
    assert child.read_line() == "0"
    assert child.finish() == ""
    assert child.returncode == 0
    parent, forked, parent_again = backend.received
    assert (parent.span_names, forked.span_names, parent_again.span_names) == (
        ("step",),
        ("step",),
        ("step",),
    )
    assert len({parent.trace_ids, forked.trace_ids, parent_again.trace_ids}) == 3
    assert parent.client_port == parent_again.client_port  # the parent's connection, reused
    assert forked.client_port != parent.client_port  # the child opened its own


def test_shutdown_is_idempotent_across_explicit_calls_and_exit(
    spawn: Spawn, tmp_path: Path
) -> None:
    out = tmp_path / "exported.txt"
    child = spawn(
        f"""
        import genai_trace
        from child_app import FileExporter, work

        genai_trace.configure(exporters=[FileExporter({str(out)!r})])
        work(1)
        genai_trace.shutdown()
        genai_trace.shutdown()
        work(2)  # after shutdown: runs, not recorded
        print(genai_trace.stats(), flush=True)
        """
    )
    assert child.read_line() == "{}"
    assert child.finish() == ""
    assert child.returncode == 0
    assert [name for _, name, _ in exported_lines(out)] == ["work"]


@pytest.mark.parametrize("app_handler", [False, True], ids=["default-action", "app-handler"])
def test_sigterm_with_flush_on_exit_signals_loses_no_completed_trace(
    spawn: Spawn, tmp_path: Path, app_handler: bool
) -> None:
    out = tmp_path / "exported.txt"
    child = spawn(
        f"""
        import signal, sys, time
        import genai_trace
        from child_app import FileExporter, work

        class SlowFile(FileExporter):
            def export(self, traces):
                time.sleep(0.05)  # an exporter that lags behind the app
                return super().export(traces)

        if {app_handler!r}:
            def graceful(signum, frame):
                print("app handler", flush=True)
                sys.exit(0)
            signal.signal(signal.SIGTERM, graceful)
        genai_trace.configure(exporters=[SlowFile({str(out)!r})])
        genai_trace.flush_on_exit_signals()
        genai_trace.flush_on_exit_signals()  # a second call changes nothing
        for i in range(200):
            work(i)
        print("ready", flush=True)
        for _ in range(600):
            time.sleep(0.1)
        """
    )
    assert child.read_line() == "ready"
    child.send(signal.SIGTERM)
    if app_handler:
        assert child.read_line() == "app handler"
    child.finish()
    assert child.returncode == (0 if app_handler else -signal.SIGTERM)
    rows = exported_lines(out)
    assert len(rows) == 200
    assert Counter(name for _, name, _ in rows) == {"work": 200}


def test_flush_on_exit_signals_is_refused_off_the_main_thread(
    spawn: Spawn,
) -> None:
    child = spawn(
        """
        import json, threading
        import genai_trace

        errors = []
        def install():
            try:
                genai_trace.flush_on_exit_signals()
            except ValueError as exc:
                errors.append(str(exc))
        thread = threading.Thread(target=install)
        thread.start()
        thread.join(30)
        print(json.dumps(errors), flush=True)
        """
    )
    assert json.loads(child.read_line()) == [
        "flush_on_exit_signals() must be called from the main thread "
        "(Python only lets the main thread install signal handlers)"
    ]
    assert child.finish() == ""
