"""Spans started in threads and thread pools nest under the span that started them.

genai-trace carries the OTel context itself (genai_trace/_threads.py); the contrib
ThreadingInstrumentor may be on as well. The fan-out script is the one
scripts/check_installs.sh runs in fresh venvs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import genai_trace
from genai_trace.testing import capture_traces
from tests.helpers.paths import INSTALL_SMOKE
from tests.helpers.trace_shape import only, parent_names

FANOUT = INSTALL_SMOKE / "thread_fanout.py"
ONE_TRACE = [
    [["agent", None]]
    + [[f"pool-{i}", "agent"] for i in range(4)]
    + [["subclass", "agent"], ["thread", "agent"], ["timer", "agent"]]
]


def run_fanout(*args: str, **env: str) -> list[list[list[str | None]]]:
    result = subprocess.run(
        [sys.executable, str(FANOUT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@genai_trace.trace
def tool(i: int) -> int:
    return i * i


@genai_trace.trace
def agent() -> list[int]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        squares = list(pool.map(tool, range(4)))
    thread = threading.Thread(target=tool, args=(10,))
    thread.start()
    thread.join()
    return squares


def test_a_thread_pool_fan_out_and_a_thread_are_one_trace_under_the_agent() -> None:
    with capture_traces() as traces:
        assert agent() == [0, 1, 4, 9]
    trace = only(traces)
    root = trace.root
    assert root is not None and root.name == "agent" and root.parent_id is None
    tools = [span for span in trace.spans if span.name == "tool"]
    assert sorted(span.inputs["i"] for span in tools) == [0, 1, 2, 3, 10]
    assert {span.parent_id for span in tools} == {root.span_id}
    assert {span.trace_id for span in trace.spans} == {root.trace_id}


def test_turned_off_each_thread_starts_a_trace_of_its_own_and_on_again_nests() -> None:
    genai_trace.configure(exporters=[], instrument_threads=False)
    with capture_traces() as traces:
        agent()
    assert sorted(t.info.name for t in traces) == ["agent"] + ["tool"] * 5
    assert all(t.info.span_count == 1 for t in traces)

    genai_trace.configure(exporters=[], instrument_threads=True)
    with capture_traces() as traces:
        agent()
    assert set(parent_names(only(traces)).items()) == {("agent", None), ("tool", "agent")}


def test_a_fresh_process_puts_pool_thread_subclass_and_timer_in_one_trace() -> None:
    assert run_fanout() == ONE_TRACE


def test_the_environment_variable_turns_it_off_in_a_fresh_process() -> None:
    traces = run_fanout(GENAI_TRACE_INSTRUMENT_THREADS="false")
    assert traces == [[[name, None]] for name, _ in ONE_TRACE[0]]


@pytest.mark.skipif(
    importlib.util.find_spec("opentelemetry.instrumentation.threading") is None,
    reason="the contrib threading instrumentation is not installed",
)
@pytest.mark.parametrize("when", ["before", "after"])
def test_with_the_contrib_threading_instrumentor_on_too_every_parent_stays(when: str) -> None:
    assert run_fanout("--contrib", when) == ONE_TRACE
