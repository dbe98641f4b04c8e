"""Random sequences of TraceClient calls, valid and invalid, on many threads, against a model.

The model predicts each call's outcome (success or the exact documented error). At the end
every completed trace must have been exported exactly once with exactly the modelled tree,
and the client must hold nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import genai_trace
from genai_trace import TraceClient
from genai_trace._api.client import ENDED_BY_END_TRACE
from genai_trace.exporters import InMemoryTraceExporter

THREADS = 4
# Caller-supplied trace ids, few enough that duplicates and reuse happen.
POOL = ["4bf92f3577b34da6a3ce929d0e0e4736", "0af7651916cd43dd8448eb211c80319c"]
MALFORMED_TRACE_IDS = ["", "abc", "0" * 32, "z" * 32, POOL[0] + "0"]
MALFORMED_SPAN_IDS = ["", "00f067aa", "0" * 16, "q" * 16]
hex32 = st.integers(1, 2**128 - 1).map(lambda n: f"{n:032x}")
hex16 = st.integers(1, 2**64 - 1).map(lambda n: f"{n:016x}")
threads = st.integers(0, THREADS - 1)


@dataclass
class ModelSpan:
    name: str
    parent_id: str | None
    ended: bool = False
    status: str = "UNSET"
    message: str | None = None


@dataclass
class ModelTrace:
    trace_id: str
    root_id: str
    spans: dict[str, ModelSpan] = field(default_factory=dict)

    def open_children(self) -> list[str]:
        return [i for i, s in self.spans.items() if i != self.root_id and not s.ended]


Outcome = type[Exception] | None


class ClientMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.exporter = InMemoryTraceExporter()
        genai_trace.configure(exporters=[self.exporter])
        self.client = TraceClient()
        self.workers = [ThreadPoolExecutor(1) for _ in range(THREADS)]
        self.pool = ThreadPoolExecutor(8)
        self.open: dict[str, ModelTrace] = {}
        # Insertion-ordered, never sorted: ids are random, and draws must replay identically.
        self.finished: dict[str, None] = {}
        self.completed: list[ModelTrace] = []
        self.counter = 0

    # --- the model's predictions ----------------------------------------------------------

    def owner(self, span_id: str) -> str | None:
        return next((t for t, m in self.open.items() if span_id in m.spans), None)

    def trace_error(self, trace_id: str) -> Outcome:
        if len(trace_id) != 32 or not _is_hex(trace_id) or int(trace_id, 16) == 0:
            return genai_trace.MalformedIdError
        if trace_id.lower() in self.open:
            return None
        if trace_id.lower() in self.finished:
            return genai_trace.AlreadyEndedError
        return genai_trace.TraceNotFoundError

    def span_error(self, trace_id: str, span_id: str) -> Outcome:
        malformed = len(span_id) != 16 or not _is_hex(span_id) or int(span_id, 16) == 0
        error = self.trace_error(trace_id)
        if malformed or error is genai_trace.MalformedIdError:
            return genai_trace.MalformedIdError
        if error is not None:
            return error
        if span_id.lower() in self.open[trace_id.lower()].spans:
            return None
        if self.owner(span_id.lower()) is not None:
            return genai_trace.WrongTraceError
        return genai_trace.SpanNotFoundError

    # --- drawing ids: mostly valid, sometimes each kind of wrong ----------------------------

    def draw_trace_id(self, data: st.DataObject) -> str:
        kinds = ["open"] * 6 if self.open else []
        kinds += ["finished"] if self.finished else []
        kind = data.draw(st.sampled_from([*kinds, "unknown", "malformed"]))
        if kind == "open":
            trace_id = data.draw(st.sampled_from(list(self.open)))
        elif kind == "finished":
            trace_id = data.draw(st.sampled_from(list(self.finished)))
        elif kind == "unknown":
            trace_id = data.draw(hex32)
        else:
            trace_id = data.draw(st.sampled_from(MALFORMED_TRACE_IDS))
        return trace_id.upper() if data.draw(st.booleans()) else trace_id

    def draw_span_id(self, data: st.DataObject, trace_id: str) -> str:
        own = self.open.get(trace_id.lower())
        anywhere = [s for m in (*self.open.values(), *self.completed) for s in m.spans]
        kinds = ["own"] * 6 if own is not None else []
        kinds += ["anywhere"] * 2 if anywhere else []
        kind = data.draw(st.sampled_from([*kinds, "unknown", "malformed"]))
        if kind == "own" and own is not None:
            return data.draw(st.sampled_from(list(own.spans)))
        if kind == "anywhere":
            return data.draw(st.sampled_from(anywhere))
        if kind == "unknown":
            return data.draw(hex16)
        return data.draw(st.sampled_from(MALFORMED_SPAN_IDS))

    # --- running calls on chosen threads ---------------------------------------------------

    def call(self, thread: int, expected: Outcome, fn: Callable[[], Any]) -> Any:
        result, error = self.workers[thread].submit(_outcome, fn).result(timeout=30)
        if expected is None:
            assert error is None, f"expected success, got {error!r}"
        else:
            assert type(error) is expected, f"expected {expected.__name__}, got {error!r}"
            assert isinstance(error, genai_trace.TracingError)
        return result

    def new_name(self) -> str:
        self.counter += 1
        return f"s{self.counter}"

    # --- rules -----------------------------------------------------------------------------

    @rule(
        custom=st.sampled_from([None, None, None, *POOL]),
        upper=st.booleans(),
        thread=threads,
    )
    def start_trace(self, custom: str | None, upper: bool, thread: int) -> None:
        expected = genai_trace.DuplicateTraceError if custom in self.open else None
        name = self.new_name()
        given = custom.upper() if custom and upper else custom
        root = self.call(thread, expected, lambda: self.client.start_trace(name, trace_id=given))
        if expected is None:
            assert custom is None or root.trace_id == custom
            model = ModelTrace(root.trace_id, root.span_id)
            model.spans[root.span_id] = ModelSpan(name, None)
            self.open[root.trace_id] = model
            self.finished.pop(root.trace_id, None)

    @rule(data=st.data(), thread=threads)
    def start_span(self, data: st.DataObject, thread: int) -> None:
        trace_id = self.draw_trace_id(data)
        parent_id = self.draw_span_id(data, trace_id)
        expected = self.span_error(trace_id, parent_id)
        name = self.new_name()
        span = self.call(
            thread,
            expected,
            lambda: self.client.start_span(name, trace_id=trace_id, parent_id=parent_id),
        )
        if expected is None:
            assert span.parent_id == parent_id.lower()
            self.open[trace_id.lower()].spans[span.span_id] = ModelSpan(name, parent_id.lower())

    @rule(data=st.data(), thread=threads)
    def end_span(self, data: st.DataObject, thread: int) -> None:
        trace_id = self.draw_trace_id(data)
        span_id = self.draw_span_id(data, trace_id)
        expected = self.span_error(trace_id, span_id)
        model = self.open.get(trace_id.lower())
        if expected is None and model is not None:
            if span_id.lower() == model.root_id:
                expected = genai_trace.RootSpanError
            elif model.spans[span_id.lower()].ended:
                expected = genai_trace.AlreadyEndedError
        self.call(
            thread,
            expected,
            lambda: self.client.end_span(trace_id=trace_id, span_id=span_id, status="OK"),
        )
        if expected is None and model is not None:
            span = model.spans[span_id.lower()]
            span.ended, span.status = True, "OK"

    @rule(data=st.data(), end_open_spans=st.booleans(), thread=threads)
    def end_trace(self, data: st.DataObject, end_open_spans: bool, thread: int) -> None:
        trace_id = self.draw_trace_id(data)
        expected = self.trace_error(trace_id)
        model = self.open.get(trace_id.lower())
        if expected is None and model is not None and model.open_children():
            expected = None if end_open_spans else genai_trace.OpenSpansError
        self.call(
            thread,
            expected,
            lambda: self.client.end_trace(trace_id=trace_id, end_open_spans=end_open_spans),
        )
        if expected is None and model is not None:
            self.complete(model)

    @rule(data=st.data())
    def end_spans_concurrently(self, data: st.DataObject) -> None:
        """Several threads end spans at once, some the same span: each ends exactly once."""
        candidates = [(m.trace_id, s) for m in self.open.values() for s in m.open_children()]
        if not candidates:
            return
        chosen = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=8))
        barrier = threading.Barrier(len(chosen))

        def end(pair: tuple[str, str]) -> tuple[Any, BaseException | None]:
            barrier.wait(timeout=30)
            return _outcome(lambda: self.client.end_span(trace_id=pair[0], span_id=pair[1]))

        outcomes = list(self.pool.map(end, chosen))
        for pair in set(chosen):
            errors = [e for p, (_, e) in zip(chosen, outcomes, strict=True) if p == pair]
            assert sum(e is None for e in errors) == 1, errors
            assert all(type(e) is genai_trace.AlreadyEndedError for e in errors if e), errors
            span = self.open[pair[0]].spans[pair[1]]
            span.ended, span.status = True, "UNSET"

    @rule(data=st.data())
    def start_spans_concurrently(self, data: st.DataObject) -> None:
        """Several threads start children at once, in one or several traces."""
        candidates = [(m.trace_id, s) for m in self.open.values() for s in m.spans]
        if not candidates:
            return
        chosen = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=8))
        names = [self.new_name() for _ in chosen]
        barrier = threading.Barrier(len(chosen))

        def start(job: tuple[tuple[str, str], str]) -> Any:
            (trace_id, parent_id), name = job
            barrier.wait(timeout=30)
            return self.client.start_span(name, trace_id=trace_id, parent_id=parent_id)

        spans = list(self.pool.map(start, zip(chosen, names, strict=True)))
        for (trace_id, parent_id), name, span in zip(chosen, names, spans, strict=True):
            self.open[trace_id].spans[span.span_id] = ModelSpan(name, parent_id)

    def complete(self, model: ModelTrace) -> None:
        for span_id in model.open_children():
            span = model.spans[span_id]
            span.ended, span.status, span.message = True, "ERROR", ENDED_BY_END_TRACE
        del self.open[model.trace_id]
        self.finished[model.trace_id] = None
        self.completed.append(model)

    # --- invariants and the final check --------------------------------------------------

    @invariant()
    def registry_matches_the_model(self) -> None:
        open_traces, known_spans, _ = self.client._open_counts()
        assert open_traces == len(self.open)
        assert known_spans == sum(len(m.spans) for m in self.open.values())

    def teardown(self) -> None:
        try:
            for model in list(self.open.values()):
                self.client.end_trace(trace_id=model.trace_id, end_open_spans=True)
                self.complete(model)
            assert genai_trace.flush(10)
            self.check_exports()
            assert self.client._open_counts()[:2] == (0, 0)
            rt = genai_trace._runtime.state.current()
            assert rt is not None and rt.assembler.open_trace_count() == 0
        finally:
            for worker in [*self.workers, self.pool]:
                worker.shutdown(wait=True)

    def check_exports(self) -> None:
        by_root: dict[str, list[Any]] = {}
        for trace in self.exporter.get_finished_traces():
            root = trace.root
            assert root is not None
            by_root.setdefault(root.span_id, []).append(trace)
        assert set(by_root) == {m.root_id for m in self.completed}
        for model in self.completed:
            (trace,) = by_root[model.root_id]  # exactly once
            assert trace.info.trace_id == model.trace_id
            assert trace.info.complete
            assert {
                s.span_id: (s.name, s.parent_id, s.status, s.status_message, s.end_time_ns is None)
                for s in trace.spans
            } == {
                i: (s.name, s.parent_id, s.status, s.message, False) for i, s in model.spans.items()
            }


def _outcome(fn: Callable[[], Any]) -> tuple[Any, BaseException | None]:
    try:
        return fn(), None
    except Exception as exc:
        return None, exc


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def test_random_call_sequences_keep_the_client_consistent() -> None:
    run_state_machine_as_test(
        ClientMachine,
        settings=settings(
            max_examples=50,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
