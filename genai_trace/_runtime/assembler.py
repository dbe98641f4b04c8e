"""TraceAssembler: a SpanProcessor that gathers each trace's spans until the trace is whole.

A trace is whole in this process when every span started in it has ended: spans are counted
open at ``on_start`` and closed at ``on_end``, so a child still running on a thread delays
export instead of being lost. ``on_start``/``on_end`` run on the app's thread and do a dict
lookup and an append under one short lock; a whole trace is queued for each exporter, whose
thread builds it if it reads it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import format_trace_id

from genai_trace._errors import log_internal_error
from genai_trace._runtime.ids import parse_trace_id
from genai_trace._runtime.live import live
from genai_trace._semantics import redaction as _redact
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import redact_waiting
from genai_trace._semantics.facts import TraceUpdates
from genai_trace._semantics.scope import SCOPE_KEY, TraceScope

Submit = Callable[[int, list[ReadableSpan], TraceUpdates | None, str | None, int, bool], None]
"""``submit(trace_id, spans, updates, incomplete_reason, dropped_spans, has_genai_span)``."""

TRACER_NAME = sc.TRACER_NAME

MAX_UNSEEN_ANCESTORS = 32
"""How many ancestors of a trace's first span, started before genai-trace was listening,
the trace waits for (see :meth:`TraceAssembler._adopt_parent`)."""

STARTED_BEFORE_SETUP = "started_before_setup"
"""The ``incomplete_reason`` of a trace that was open before genai-trace was set up."""

_ABSENT = object()


class _TraceBuffer:
    """One trace being assembled. Every field is guarded by the assembler's lock."""

    __slots__ = (
        "adopted",
        "ancestors_left",
        "created",
        "dropped",
        "ended",
        "has_genai_span",
        "open",
        "root",
        "top",
        "updates",
    )

    def __init__(self, root: Span) -> None:
        self.root = root  # the highest live span of the trace known so far
        self.top: ReadableSpan | None = None  # an awaited ancestor that ended, the highest
        # Open spans by id; ``None`` for an ancestor that started before genai-trace was
        # listening, known only by the id its child names as parent.
        self.open: dict[int, Span | None] = {}
        self.ancestors_left = 0
        # The trace was open before genai-trace listened: its spans that ended earlier are
        # lost, so it is exported marked (see _adopt_parent).
        self.adopted = False
        self.ended: list[ReadableSpan] = []
        self.created = time.monotonic()
        self.updates: TraceUpdates | None = None
        self.has_genai_span = False
        self.dropped = 0


class TraceAssembler(SpanProcessor):
    """Buffers spans per trace id and submits each trace once it is whole.

    Bounded: at most ``max_traces`` traces in assembly (the oldest is submitted incomplete
    to make room), at most ``max_spans`` spans kept per trace (more are dropped and counted),
    and a trace open longer than ``timeout_s`` is submitted incomplete by :meth:`sweep`.
    """

    def __init__(self) -> None:
        self._submit: Submit = lambda *trace: None  # until configure() points it somewhere
        self.max_traces = 10_000
        self.max_spans = 50_000
        self.timeout_s = 300.0
        self.enabled = False
        # The scope object of our tracer's spans, learnt from the first one: then an
        # identity test tells ours apart.
        self._own_scope: object = None
        self._last_trace_id = 0
        self.evicted = 0
        self.timed_out = 0
        self.dropped_spans = 0
        self._provider_processors: object = None
        self._sole_processors: object = None  # the processor tuple last seen with us alone
        self._sdk_value_room = 0
        self._reset()

    def watch(self, provider: object) -> None:
        """Remember the provider this processor was added to (see :meth:`is_sole_processor`)."""
        self._provider_processors = getattr(provider, "_active_span_processor", None)
        # The SDK cuts attribute values past its length limit, before any processor sees
        # them: a payload longer than that cannot wait for redaction (the cut could split a
        # secret). An SDK whose limits cannot be read gets no waiting at all.
        limits = getattr(provider, "_span_limits", None)
        room = getattr(limits, "max_attribute_length", -1)
        self._sdk_value_room = 1 << 62 if room is None else room if isinstance(room, int) else 0
        if not _attribute_store_reachable():
            # Redacting in place (a processor added while a span is open) writes into the
            # SDK's attribute store: without one to write to, nothing may wait.
            self._sdk_value_room = 0

    def redaction_room(self) -> int:
        """How long a payload may be and still have its redaction wait for the trace's build.

        0 (never wait) unless redaction is on without a user callable (which may depend on
        the calling thread's context) and no other span processor can read the span.
        """
        redactor = live.redactor
        if redactor is None or redactor.user is not None or not self.is_sole_processor():
            return 0
        return self._sdk_value_room

    def is_sole_processor(self) -> bool:
        """Whether no other span processor sees spans: only our exporters read them then.

        Reads the SDK's processor tuple; if an SDK stores it otherwise, the answer is
        ``False``, the safe one (values are then redacted as they are recorded).
        """
        processors = getattr(self._provider_processors, "_span_processors", None)
        if processors is self._sole_processors:  # adding a processor makes a new tuple
            return True
        sole = type(processors) is tuple and len(processors) == 1 and processors[0] is self
        if sole:
            self._sole_processors = processors
        return sole

    def configure(
        self,
        submit: Submit,
        *,
        max_traces: int,
        max_spans: int,
        timeout_s: float,
    ) -> None:
        """Point the assembler at a pipeline and set its bounds; enables it."""
        self._submit = submit
        self.max_traces = max_traces
        self.max_spans = max_spans
        self.timeout_s = timeout_s
        self.enabled = True

    def _reset(self) -> None:
        # Guards _buffers and every _TraceBuffer in it. Held for dict/list operations only:
        # no I/O, no user code, no span methods (which take the span's own lock).
        self._lock = threading.Lock()
        self._buffers: dict[int, _TraceBuffer] = {}

    def reset_after_fork(self) -> None:
        """In a forked child: forget the parent's traces (the parent exports them)."""
        self._reset()

    # --- SpanProcessor -------------------------------------------------------------

    def on_start(self, span: Span, parent_context: context_api.Context | None = None) -> None:
        """Count the span open in its trace; apply the enclosing ``context()`` values.

        A span that is not sampled (a sampler's RECORD_ONLY) is left alone: like the SDK's
        export processors, genai-trace exports sampled spans only.
        """
        if not self.enabled or live.disabled:
            return
        try:
            if live.scope_in_use:  # no context lookup at all until genai_trace.context() is used
                scope = context_api.get_value(SCOPE_KEY, parent_context)
                if isinstance(scope, TraceScope) and scope.attributes:
                    _apply_scope(span, scope)
            context = span.get_span_context()
            if not context.trace_flags.sampled:
                return
            # Ours are GenAI spans by construction; others are if they carry a span kind.
            tracer_scope = span.instrumentation_scope
            if tracer_scope is self._own_scope:
                is_genai = True
            elif tracer_scope is not None and tracer_scope.name == TRACER_NAME:
                self._own_scope, is_genai = tracer_scope, True
            else:
                is_genai = _marked_genai(span)
            evicted = None
            with self._lock:
                buffer = self._buffers.get(context.trace_id)
                if buffer is None:
                    if len(self._buffers) >= self.max_traces:
                        evicted = self._buffers.pop(next(iter(self._buffers)))
                        self.evicted += 1
                    buffer = self._buffers[context.trace_id] = _TraceBuffer(span)
                    parent = span.parent
                    if parent is not None and not parent.is_remote:
                        self._adopt_parent(buffer, parent.span_id, parent_context)
                buffer.open[context.span_id] = span
                if is_genai:
                    buffer.has_genai_span = True
            if evicted is not None:
                self._submit_buffer(evicted, "evicted")
        except Exception:
            log_internal_error("TraceAssembler.on_start")

    def on_end(self, span: ReadableSpan) -> None:
        """Add the finished span; submit the trace when no span of it is open any more."""
        if not self.enabled:
            return
        try:
            context = span.get_span_context()
            if context is None or not context.trace_flags.sampled:
                return
            _redact.compact_ended_span(span)  # it may wait for export: fewer objects to walk
            complete = orphan = None
            with self._lock:
                buffer = self._buffers.get(context.trace_id)
                if buffer is None:
                    # Its trace was already exported (timeout) or never seen; while
                    # genai-trace is disabled, no trace is taken in, not even a part.
                    orphan = None if live.disabled else span
                else:
                    if buffer.open.pop(context.span_id, _ABSENT) is None:
                        self._ancestor_ended(buffer, span)
                    # The last slot is the root's: it ends last, and without it the trace
                    # would have no name, inputs, outputs or previews.
                    if len(buffer.ended) < self.max_spans - 1 or (
                        len(buffer.ended) < self.max_spans
                        and context.span_id == buffer.root.get_span_context().span_id
                    ):
                        buffer.ended.append(span)
                    else:
                        buffer.dropped += 1
                    if not buffer.has_genai_span and _marked_genai(span):
                        buffer.has_genai_span = True
                    if not buffer.open:
                        complete = self._buffers.pop(context.trace_id)
            if complete is not None:
                self._submit_buffer(complete, None)
            elif orphan is not None:
                self._submit(
                    context.trace_id, [orphan], None, "late_span", 0, _marked_genai(orphan)
                )
        except Exception:
            log_internal_error("TraceAssembler.on_end")

    def _adopt_parent(
        self, buffer: _TraceBuffer, parent_id: int, parent_context: context_api.Context | None
    ) -> None:
        """Take in the open parent of a trace's first span: it started before we listened.

        genai-trace configures itself at its first span, when the app's request span may be
        open already; without this the trace would be exported when our span ends, without
        its root. The live parent is in ``parent_context``; only one of this provider's
        open, sampled spans is taken (another provider's spans never reach ``on_end``).
        Its own ancestors are known by id only, so each is awaited until it ends, up to
        :data:`MAX_UNSEEN_ANCESTORS`; one that never does is bounded by ``timeout_s``.
        Spans of the trace that ended before we listened (an ``auth`` step before the first
        traced call) never reach us: the trace is marked incomplete,
        ``"started_before_setup"``, as it may lack them. Called under the lock, only when a
        trace is first seen with a local parent.
        """
        live = trace_api.get_current_span(parent_context)
        if (
            not isinstance(live, Span)
            or live.end_time is not None
            or getattr(live, "_span_processor", None) is not self._provider_processors
        ):
            return
        context = live.get_span_context()
        if context.span_id != parent_id or not context.trace_flags.sampled:
            return
        buffer.root = live
        buffer.open[parent_id] = live
        buffer.adopted = True
        buffer.ancestors_left = MAX_UNSEEN_ANCESTORS
        _await_parent(buffer, live)

    @staticmethod
    def _ancestor_ended(buffer: _TraceBuffer, span: ReadableSpan) -> None:
        """An awaited ancestor ended: it is the trace's root now, or awaits its own parent."""
        buffer.top = span
        _await_parent(buffer, span)

    def _on_ending(self, span: Span) -> None:
        """Redact what must be, before any processor sees the ending span.

        Another instrumentation's span (an LLM client's messages) is cleaned here, for the
        app's own exporters too. Ours were redacted as their values were recorded, except
        payloads that wait for the build while we are the only processor.
        """
        if not self.enabled:
            return
        try:
            scope = span.instrumentation_scope
            if scope is not None and scope.name == TRACER_NAME:
                if not self.is_sole_processor():
                    # Another processor came while the span was open: what waited for the
                    # build goes now, in place, before any processor sees the span.
                    store = _redact.attribute_store(span)
                    if store is not None:
                        redact_waiting(store, live.redactor, live.payload_cap)
                return
            redactor = live.redactor
            keep_content = live.capture_content
            if redactor is not None or not keep_content:
                _redact.clean_foreign_span(span, redactor, keep_content)
        except Exception:
            log_internal_error("redacting a span")

    def shutdown(self) -> None:
        """Submit every trace still in assembly, marked incomplete (the process is ending)."""
        self.flush_open("shutdown")

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is held here that ``genai_trace.flush`` does not already drain."""
        return True

    # --- called by genai-trace ----------------------------------------------------------

    @property
    def last_trace_id(self) -> str | None:
        """The last complete GenAI trace's id (formatted only when asked: off the hot path)."""
        return format_trace_id(self._last_trace_id) if self._last_trace_id else None

    def sweep(self, now: float | None = None) -> int:
        """Submit traces open longer than ``timeout_s`` as incomplete; return how many."""
        now = time.monotonic() if now is None else now
        expired: list[_TraceBuffer] = []
        with self._lock:
            # Buffers are in creation order, so the expired ones are a prefix.
            for buffer in self._buffers.values():
                if now - buffer.created < self.timeout_s:
                    break
                expired.append(buffer)
            for buffer in expired:
                del self._buffers[buffer.root.get_span_context().trace_id]
        for buffer in expired:
            self.timed_out += 1
            self._submit_buffer(buffer, "timeout")
        return len(expired)

    def flush_open(self, reason: str) -> int:
        """Submit every trace in assembly now, marked incomplete with ``reason``."""
        with self._lock:
            buffers = list(self._buffers.values())
            self._buffers.clear()
        for buffer in buffers:
            self._submit_buffer(buffer, reason)
        return len(buffers)

    def update_trace(self, trace_id: int, apply: Callable[[TraceUpdates], None]) -> Span | None:
        """Apply ``apply`` to the trace's pending updates; return its root span.

        Returns ``None`` when the trace is not in assembly (already exported, or unknown).
        """
        with self._lock:
            buffer = self._buffers.get(trace_id)
            if buffer is None:
                return None
            if buffer.updates is None:
                buffer.updates = TraceUpdates()
            apply(buffer.updates)
            buffer.has_genai_span = True
            return buffer.root

    def live_span(self, key: str, span_id: int | None) -> tuple[int, Span | None] | None:
        """The trace in assembly that ``key`` names (its hex id, or its client request id).

        Returns its trace id and the open span ``span_id`` (its root when ``None``), the span
        being ``None`` when it already ended; ``None`` when no open trace matches. A look-up
        by client request id walks the open traces: feedback is rare, spans are not.
        """
        trace_id = parse_trace_id(key)
        with self._lock:
            buffer = self._buffers.get(trace_id) if trace_id is not None else None
            if buffer is None:
                buffer = next(
                    (
                        b
                        for b in self._buffers.values()
                        if b.updates is not None and b.updates.client_request_id == key
                    ),
                    None,
                )
            if buffer is None:
                return None
            wanted = buffer.root.get_span_context().span_id if span_id is None else span_id
            span = buffer.open.get(wanted)
            return buffer.root.get_span_context().trace_id, span

    def mark_genai(self, trace_id: int) -> None:
        """Keep this trace: a foreign span of it was given GenAI meaning."""
        with self._lock:
            buffer = self._buffers.get(trace_id)
            if buffer is not None:
                buffer.has_genai_span = True

    def open_trace_count(self) -> int:
        """Traces in assembly right now."""
        with self._lock:
            return len(self._buffers)

    def open_trace_count_unlocked(self) -> int:
        """Traces in assembly, read without the lock (for a signal handler)."""
        return len(self._buffers)

    def _submit_buffer(self, buffer: _TraceBuffer, reason: str | None) -> None:
        spans = buffer.ended
        if reason is not None:
            # Still-open spans go out as they are now, unfinished, so nothing is lost.
            spans = spans + [_snapshot(s) for s in list(buffer.open.values()) if s is not None]
        elif buffer.dropped:
            reason = "span_limit"
        elif _parent_missing(buffer.top or buffer.root):
            reason = "late_span"
        elif buffer.adopted:
            reason = STARTED_BEFORE_SETUP
        if buffer.dropped:
            with self._lock:  # app threads submit side by side
                self.dropped_spans += buffer.dropped
        if not spans:
            return
        trace_id = buffer.root.get_span_context().trace_id
        if reason is None and buffer.has_genai_span:
            self._last_trace_id = trace_id
        self._submit(trace_id, spans, buffer.updates, reason, buffer.dropped, buffer.has_genai_span)


def _attribute_store_reachable() -> bool:
    try:
        from opentelemetry.attributes import BoundedAttributes

        probe = type("Probe", (), {"_attributes": BoundedAttributes()})
        return _redact.attribute_store(probe) is not None
    except Exception:
        return False


def _marked_genai(span: ReadableSpan) -> bool:
    """A span given a type after it started (``GenAISpan.set_span_type`` on a foreign span)."""
    attributes = span.attributes
    return attributes is not None and sc.OPENINFERENCE_SPAN_KIND in attributes


def _apply_scope(span: Span, scope: TraceScope) -> None:
    # A value the span was started with wins over the enclosing scope's.
    existing = span.attributes or {}
    missing: dict[str, Any] = {k: v for k, v in scope.attributes.items() if k not in existing}
    if missing:
        span.set_attributes(missing)


def _await_parent(buffer: _TraceBuffer, span: ReadableSpan) -> None:
    """Count ``span``'s local parent open (known by id only), while the budget lasts."""
    parent = span.parent
    if parent is None or parent.is_remote or buffer.ancestors_left <= 0:
        return
    buffer.ancestors_left -= 1
    buffer.open.setdefault(parent.span_id, None)


def _parent_missing(root: ReadableSpan) -> bool:
    """A local root whose parent is a local span: its trace was exported before it started."""
    parent = root.parent
    return parent is not None and not parent.is_remote


def _snapshot(span: Span) -> ReadableSpan:
    """A read-only copy of a span that has not ended (``end_time`` stays ``None``)."""
    return ReadableSpan(
        name=span.name,
        context=span.get_span_context(),
        parent=span.parent,
        resource=span.resource,
        attributes=dict(span.attributes or {}),
        events=tuple(span.events),
        links=tuple(span.links),
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
