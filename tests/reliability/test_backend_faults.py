"""Backend faults: a real OTLP/HTTP server on 127.0.0.1 that refuses, hangs, fails or hangs up.

The promises: the app's calls never wait for the backend (only the destination's own export
thread does); export retries with backoff within its timeout; queues are bounded; what is
dropped or fails is counted per destination and warned about once per interval, never per
trace; and once the backend is back, traces flow again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import genai_trace
from genai_trace._api import reading
from genai_trace._runtime import state as _runtime
from genai_trace._runtime.pipeline import Destination
from genai_trace.exporters import InMemoryTraceExporter
from genai_trace.exporters.otlp import OTLPTraceExporter
from genai_trace.store import SQLiteTraceStore
from tests.helpers.reliability.faults import (
    WAIT_S,
    Accept,
    Close,
    FaultyBackend,
    Hang,
    Status,
    free_port,
    threads_blocked_on_sockets,
    wait_until,
)

SLACK_S = 10.0
"""Added to a promised bound (a timeout) before a test calls it broken: the machine is shared."""


@genai_trace.trace
def unit(i: int) -> int:
    return i


def runtime() -> _runtime.Runtime:
    rt = _runtime.current()
    assert rt is not None
    return rt


def destination(index: int = 0) -> Destination:
    return runtime().pipeline.destinations[index]


def counts(index: int = 0) -> dict[str, int]:
    d = destination(index)
    return {"exported": d.exported, "failed": d.failed, "dropped": d.dropped}


def call_and_queue(i: int) -> str:
    """One traced call; its trace is queued at every destination when it returns."""
    assert unit(i) == i
    trace_id = genai_trace.get_last_trace_id()
    assert trace_id is not None
    return trace_id


def our_warnings(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "genai_trace" and r.levelno == logging.WARNING and text in r.getMessage()
    ]


@pytest.fixture(autouse=True)
def quiet_otel_exporter(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    # The OTel exporter logs each failed attempt itself; these tests read genai_trace's log.
    caplog.set_level(logging.CRITICAL, logger="opentelemetry.exporter")
    caplog.set_level(logging.WARNING, logger="genai_trace")
    yield


def test_a_hanging_backend_blocks_only_its_own_export_thread(backend: FaultyBackend) -> None:
    backend.default = Hang()
    memory = InMemoryTraceExporter()
    otlp = OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S * 4)
    genai_trace.configure(exporters=[otlp, memory])

    first = call_and_queue(0)
    backend.wait_for(1, hanging=1)
    app_trace_ids = [call_and_queue(i) for i in range(1, 201)]

    # Every call returned while the backend still holds the first request.
    assert not backend.release.is_set() and backend.hanging == 1
    # Of genai-trace's threads and the app's, only the OTLP export thread waits on its socket
    # (threads other tests left behind may wait on sockets of their own). The backend holds
    # the request once it has read it; the export thread reaches its read of the answer when
    # it next gets the GIL, which the app's calls just held: it is given that moment.
    otlp_thread = f"genai_trace export: OTLP {backend.endpoint}"
    assert wait_until(lambda: otlp_thread in threads_blocked_on_sockets())
    blocked = threads_blocked_on_sockets()
    ours = {name for name in blocked if name.startswith("genai_trace")}
    assert ours == {otlp_thread}
    assert threading.main_thread().name not in blocked
    # The other destination is not delayed at all.
    assert destination(1).flush(WAIT_S)
    assert len(memory.get_finished_traces()) == 201

    backend.default = Accept()
    backend.release.set()
    assert genai_trace.flush(WAIT_S)
    assert counts(0) == {"exported": 201, "failed": 0, "dropped": 0}
    assert backend.delivered() == [first, *app_trace_ids]


def test_a_full_queue_drops_and_counts_and_warns_once_per_interval(
    backend: FaultyBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.default = Hang()
    genai_trace.configure(
        exporters=[OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S * 4)],
        export_queue_size=5,
    )
    now = [1000.0]
    destination().drop_warning.clock = lambda: now[0]

    sent = [call_and_queue(0)]
    backend.wait_for(1, hanging=1)  # the export thread holds trace 0 in a request
    sent += [call_and_queue(i) for i in range(1, 6)]  # fill the queue: 5 traces
    for i in range(6, 30):
        call_and_queue(i)  # 24 dropped
    assert counts() == {"exported": 0, "failed": 0, "dropped": 24}
    assert our_warnings(caplog, "is full") == [
        f"genai_trace: the queue of genai_trace export: OTLP {backend.endpoint} is full "
        "(the exporter is slower than the app, or its backend is down): 1 traces dropped "
        "since the start; see genai_trace.stats()"
    ]

    now[0] += 61.0  # a minute later, the next drop logs one summary with the count
    call_and_queue(30)
    assert [w.split("down): ")[1] for w in our_warnings(caplog, "is full")] == [
        "1 traces dropped since the start; see genai_trace.stats()",
        "24 traces dropped since the last 61s; see genai_trace.stats()",
    ]
    assert genai_trace.stats()["destinations"][destination().name]["dropped"] == 25

    # The backend comes back: what was queued goes out, and new traces flow again.
    backend.default = Accept()
    backend.release.set()
    assert genai_trace.flush(WAIT_S)
    sent.append(call_and_queue(31))
    assert genai_trace.flush(WAIT_S)
    assert backend.delivered() == sent
    assert counts() == {"exported": 7, "failed": 0, "dropped": 25}


@pytest.mark.slow
def test_an_unreachable_backend_fails_within_the_retry_bound_then_traces_flow_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()
    timeout_s = 2.0
    genai_trace.configure(
        exporters=[OTLPTraceExporter(f"http://127.0.0.1:{port}", timeout_s=timeout_s)]
    )
    failure_clock = [0.0]
    destination().failure_warning.clock = lambda: failure_clock[0]

    for i in range(3):
        started = time.monotonic()
        call_and_queue(i)
        assert genai_trace.flush(WAIT_S)  # refused, retried with backoff, then given up
        assert time.monotonic() - started < timeout_s + SLACK_S
    assert counts() == {"exported": 0, "failed": 3, "dropped": 0}
    assert len(our_warnings(caplog, "failed to export")) == 1  # not one per trace

    with FaultyBackend(port=port) as revived:
        back = [call_and_queue(i) for i in range(3, 5)]
        assert genai_trace.flush(WAIT_S)
        assert revived.delivered() == back
        assert counts() == {"exported": 2, "failed": 3, "dropped": 0}
        genai_trace.shutdown(timeout_s=WAIT_S)


def test_a_500_is_not_retried_and_is_counted_as_failed(backend: FaultyBackend) -> None:
    backend.script.append(Status(500))
    genai_trace.configure(exporters=[OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S)])
    refused = call_and_queue(0)
    assert genai_trace.flush(WAIT_S)
    accepted = call_and_queue(1)
    assert genai_trace.flush(WAIT_S)
    assert [(r.trace_ids, r.answer) for r in backend.received] == [
        ((refused,), Status(500)),
        ((accepted,), Accept()),
    ]
    assert counts() == {"exported": 1, "failed": 1, "dropped": 0}


@pytest.mark.slow
@pytest.mark.parametrize("answer", [Status(503, retry_after="1"), Status(429, retry_after="1")])
def test_503_and_429_are_retried_after_retry_after_until_accepted(
    backend: FaultyBackend, answer: Status
) -> None:
    backend.script.extend([answer, answer])
    genai_trace.configure(exporters=[OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S)])
    trace_id = call_and_queue(0)
    assert genai_trace.flush(WAIT_S)
    assert [(r.trace_ids, r.answer) for r in backend.received] == [
        ((trace_id,), answer),
        ((trace_id,), answer),
        ((trace_id,), Accept()),
    ]
    assert counts() == {"exported": 1, "failed": 0, "dropped": 0}


def test_a_retry_after_beyond_the_export_timeout_fails_at_once(backend: FaultyBackend) -> None:
    backend.script.append(Status(429, retry_after="3600"))
    timeout_s = 3.0
    genai_trace.configure(exporters=[OTLPTraceExporter(backend.endpoint, timeout_s=timeout_s)])
    started = time.monotonic()
    call_and_queue(0)
    assert genai_trace.flush(WAIT_S)
    assert time.monotonic() - started < timeout_s + SLACK_S
    assert [r.answer for r in backend.received] == [Status(429, retry_after="3600")]
    assert counts() == {"exported": 0, "failed": 1, "dropped": 0}


@pytest.mark.slow
def test_a_backend_that_hangs_up_mid_request_is_retried(backend: FaultyBackend) -> None:
    # The exporter retries a dropped connection at once, then once more after a backoff.
    backend.script.extend([Close(), Close()])
    genai_trace.configure(exporters=[OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S)])
    trace_id = call_and_queue(0)
    assert genai_trace.flush(WAIT_S)
    assert [(r.trace_ids, r.answer) for r in backend.received] == [
        ((trace_id,), Close()),
        ((trace_id,), Close()),
        ((trace_id,), Accept()),
    ]
    assert counts() == {"exported": 1, "failed": 0, "dropped": 0}


@pytest.mark.slow
def test_a_hanging_backend_cannot_hold_flush_or_shutdown_past_their_timeout(
    backend: FaultyBackend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.default = Hang()
    genai_trace.configure(
        exporters=[OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S * 4)],
    )
    call_and_queue(0)
    backend.wait_for(1, hanging=1)
    for i in range(1, 4):
        call_and_queue(i)  # queued behind the hanging request
    held = destination()

    started = time.monotonic()
    assert genai_trace.flush(timeout_s=0.5) is False
    assert time.monotonic() - started < 0.5 + SLACK_S

    started = time.monotonic()
    genai_trace.shutdown(timeout_s=0.5)
    assert time.monotonic() - started < 0.5 + SLACK_S
    assert (held.exported, held.failed, held.dropped) == (0, 0, 3)
    assert our_warnings(caplog, "did not finish") == [
        f"genai_trace: {held.name} did not finish within 0.5s; 1 traces still being "
        "exported (lost if the process ends now), 3 queued traces are dropped"
    ]
    genai_trace.shutdown()  # idempotent


def test_a_lookup_never_waits_for_a_hanging_backend(
    backend: FaultyBackend, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # With the look-up's own bound lifted, a look-up that waited for the OTLP destination
    # would hang here until the safety net; it must only wait for the build and the store.
    monkeypatch.setattr(reading, "_LOOKUP_FLUSH_TIMEOUT_S", None)
    backend.default = Hang()
    genai_trace.configure(
        exporters=[
            OTLPTraceExporter(backend.endpoint, timeout_s=WAIT_S * 4),
            SQLiteTraceStore(tmp_path / "traces.db"),
        ],
        recent_traces=0,  # found in the store, not in memory
    )
    call_and_queue(0)
    backend.wait_for(1, hanging=1)
    assert unit(1) == 1  # completed, perhaps not yet built: the look-up waits for that only
    trace_id = genai_trace.get_last_trace_id()
    assert trace_id is not None

    found: list[object] = []
    lookup = threading.Thread(
        target=lambda: found.extend(
            [genai_trace.get_trace(trace_id), genai_trace.search_traces(limit=10)]
        )
    )
    lookup.start()
    lookup.join(WAIT_S)
    assert not lookup.is_alive() and backend.hanging == 1
    trace, infos = found
    assert isinstance(trace, genai_trace.Trace) and trace.info.trace_id == trace_id
    assert isinstance(infos, list) and len(infos) == 2
