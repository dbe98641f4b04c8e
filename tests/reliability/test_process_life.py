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

from tests.helpers.reliability.faults import Child, FaultyBackend, Hang, exported_lines

SLACK_S = 10.0
"""Added to a promised bound before a test calls it broken: the machine is shared."""

Spawn = Callable[..., Child]


def test_normal_exit_exports_pending_traces(spawn: Spawn, tmp_path: Path) -> None:
    out = tmp_path / "exported.txt"
    child = spawn(
        f"""
        import genai_trace
        from tests.helpers.reliability.child_app import FileExporter, fork_with_threads, work

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


@pytest.mark.slow
def test_exit_with_a_hanging_backend_waits_at_most_exit_flush_timeout_s(
    spawn: Spawn, backend: FaultyBackend
) -> None:
    backend.default = Hang()
    child = spawn(
        f"""
        import time
        import genai_trace
        from genai_trace.exporters.otlp import OTLPTraceExporter
        from tests.helpers.reliability.child_app import work

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
    assert (
        "did not finish within 1.0s; 1 traces still being exported (lost if the process "
        "ends now), 1 queued traces are dropped"
    ) in stderr


def test_a_forked_child_traces_on_its_own_and_nothing_is_exported_twice(
    spawn: Spawn, tmp_path: Path
) -> None:
    out = tmp_path / "exported.txt"
    child = spawn(
        f"""
        import os, sys, threading
        import genai_trace
        from genai_trace._runtime import state as _runtime
        from tests.helpers.reliability.child_app import FileExporter, fork_with_threads, work

        gate = threading.Event()
        genai_trace.configure(exporters=[FileExporter({str(out)!r}, gate=gate)])

        @genai_trace.trace
        def before_fork(): return work(1)

        @genai_trace.trace
        def in_child(): return work(2)

        @genai_trace.trace
        def after_fork(): return work(3)

        before_fork()
        pid = fork_with_threads()
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
        from tests.helpers.reliability.child_app import fork_with_threads

        genai_trace.configure(exporters=[OTLPTraceExporter({backend.endpoint!r}, timeout_s=30)])

        @genai_trace.trace
        def step(where): return where

        step("parent")
        assert genai_trace.flush(30)  # the parent now holds a keep-alive connection
        pid = fork_with_threads()
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
        from tests.helpers.reliability.child_app import FileExporter, fork_with_threads, work

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
        from tests.helpers.reliability.child_app import FileExporter, fork_with_threads, work

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


@pytest.mark.parametrize("where", ["GENAI_TRACE_DB", "default path"])
def test_a_fresh_process_reads_traces_another_process_stored(
    spawn: Spawn, tmp_path: Path, where: str
) -> None:
    env = {"GENAI_TRACE_DB": str(tmp_path / "elsewhere.db")} if where == "GENAI_TRACE_DB" else {}
    writer = spawn(
        """
        import genai_trace

        @genai_trace.trace(span_type="RETRIEVER")
        def retrieve(question):
            return ["doc-1", "doc-2"]

        @genai_trace.trace
        def answer(question):
            genai_trace.update_current_trace(client_request_id="req-7", tags={"team": "search"})
            docs = retrieve(question)
            with genai_trace.start_span("generate", span_type="LLM", inputs={"docs": docs}) as s:
                s.set_outputs("Paris")
            return "Paris"

        answer("capital of France?")
        print(genai_trace.get_last_trace_id(), flush=True)
        """,
        env=env,
    )
    trace_id = writer.read_line()
    assert writer.finish() == ""
    assert writer.returncode == 0
    reader = spawn(
        f"""
        import json, threading
        from opentelemetry import trace as trace_api
        import genai_trace
        from genai_trace._runtime import state as _runtime

        found = genai_trace.get_trace({trace_id!r})
        spans = {{span.span_id: span for span in found.spans}}
        print(json.dumps({{
            "trace": [found.info.trace_id, found.info.name, found.info.state, found.info.tags],
            "tree": sorted(
                [s.name, s.span_type, spans[s.parent_id].name if s.parent_id else None,
                 s.inputs, s.outputs]
                for s in found.spans
            ),
            "by request id": genai_trace.get_trace("req-7").info.trace_id,
            "unknown": genai_trace.get_trace("0" * 32),
            "search": [[i.trace_id, i.name] for i in genai_trace.search_traces()],
            "search by tag": len(genai_trace.search_traces(tags={{"team": "search"}})),
            "last in this process": genai_trace.get_last_trace_id(),
            # reading set nothing up: no runtime, no provider, no export thread
            "runtime": _runtime.current() is not None,
            "provider": type(trace_api.get_tracer_provider()).__name__,
            "threads": [t.name for t in threading.enumerate()],
        }}), flush=True)
        """,
        env=env,
    )
    read = json.loads(reader.read_line())
    assert reader.finish() == ""
    assert reader.returncode == 0
    assert read == {
        "trace": [trace_id, "answer", "OK", {"team": "search"}],
        "tree": [
            ["answer", "CHAIN", None, {"question": "capital of France?"}, "Paris"],
            ["generate", "LLM", "answer", {"docs": ["doc-1", "doc-2"]}, "Paris"],
            [
                "retrieve",
                "RETRIEVER",
                "answer",
                {"question": "capital of France?"},
                ["doc-1", "doc-2"],
            ],
        ],
        "by request id": trace_id,
        "unknown": None,
        "search": [[trace_id, "answer"]],
        "search by tag": 1,
        "last in this process": None,
        "runtime": False,
        "provider": "ProxyTracerProvider",
        "threads": ["MainThread"],
    }
