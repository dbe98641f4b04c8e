"""TraceClient: the low-level API with explicit ids, for code that cannot nest ``with`` blocks.

Callbacks, queues, event replays and servers that start work in one request and finish it in
another name their spans by id instead. The client keeps a registry of the traces it started
and their spans; every call is checked against it, and misuse raises a specific
:class:`~genai_trace.TracingError` subclass whose message names the id and the problem.

Lookups: the registry is keyed by the ids exactly as the client hands them out (lowercase
hex), so a call that passes ``root.trace_id`` back needs one pattern match and one dict
lookup. Any other id is parsed and checked (uppercase is accepted), before the lock is
taken: a malformed id is named before any other error, and its ``repr`` (user code) never
runs under the lock.

Locking: one lock per client guards the registry. It is held for dict operations only: no
I/O, no user code and no span method runs under it. Spans are started and ended outside it,
so a span processor that calls back into the client cannot deadlock.

Forgetting: an entry lives until its ``end_trace``, or until the trace is older than
``trace_timeout_s`` (the assembler then exports it marked incomplete), or until genai-trace is
reconfigured or shut down (which exports open traces marked incomplete too). The client checks
this at each call, so nothing is held forever and a late call gets :class:`TraceTimedOutError`.

Reading order: :class:`TraceClient` and its registry; then how it starts and ends OTel spans
(outside the current context, as placeholders with real ids when tracing is off); then the
argument checks that name each misuse. The errors themselves are public, in
``genai_trace.exceptions``.

Layer: ``_api``; imports ``span`` and ``fluent`` (trace-level facts, as
``update_current_trace`` sets them), ``_runtime``, ``_semantics`` and ``exceptions``.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from genai_trace._api.fluent import update_trace
from genai_trace._api.span import GenAISpan, add_input, set_output, static_attributes
from genai_trace._errors import log_internal_error
from genai_trace._runtime import config as _config
from genai_trace._runtime import state as _runtime
from genai_trace._runtime.ids import GenAIIdGenerator, format_span_id, format_trace_id
from genai_trace._runtime.live import live
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import clean_text, payload_text
from genai_trace._semantics.scope import Tags, normalize_tags
from genai_trace.exceptions import (
    AlreadyEndedError,
    DuplicateTraceError,
    MalformedIdError,
    OpenSpansError,
    RootSpanError,
    SpanNotFoundError,
    TraceNotFoundError,
    TraceTimedOutError,
    TracingError,
    WrongTraceError,
)

FINISHED_MEMORY = 1024
"""At least how many finished trace ids a client remembers (at most twice as many), to say
"already ended" rather than "unknown"."""
ENDED_BY_END_TRACE = "still open when end_trace(end_open_spans=True) ended its trace"
"""Status description of a child span that ``end_trace`` ended on the caller's behalf."""

_Ending = tuple[type[AlreadyEndedError], str]
"""Why a finished trace is not open: the error a later call raises, and its reason."""
_ENDED: _Ending = (AlreadyEndedError, "it already ended")
# One tuple for every trace that ends normally: a new one per trace would outlive its call
# in the finished memory and bring Python's garbage collections sooner.
_RECONFIGURED: _Ending = (
    TraceTimedOutError,
    "genai_trace was reconfigured or shut down while it was open, so it was exported "
    "marked incomplete",
)


class TraceClient:
    """Start and end spans by explicit ids, from any thread, in any order a tree allows.

    The spans are ordinary genai-trace spans: they assemble into whole traces and go to the
    configured exporters. They never become the current span by themselves; to nest
    ``@trace`` or ``start_span`` spans under one, wrap the code in
    ``genai_trace.use_span(span)``.

    Every method is safe to call from many threads at once; a span started on one thread
    may be ended on another. Misuse raises a :class:`~genai_trace.TracingError` subclass
    and changes nothing; wrong argument types raise ``TypeError`` and bad values
    ``ValueError`` (:class:`MalformedIdError` for ids).

    Example:
        >>> client = genai_trace.TraceClient()
        >>> root = client.start_trace("complex_workflow", inputs={"query": "otlp"})
        >>> child = client.start_span(
        ...     "data_retrieval", trace_id=root.trace_id, parent_id=root.span_id,
        ...     span_type=SpanType.RETRIEVER, inputs={"k": 3},
        ... )
        >>> client.end_span(trace_id=child.trace_id, span_id=child.span_id, outputs=["doc-1"])
        >>> client.end_trace(trace_id=root.trace_id, outputs="done")
    """

    def __init__(self) -> None:
        # Guards every field below; see the module docstring for what may run under it.
        self._lock = threading.Lock()
        self._traces: dict[str, _OpenTrace] = {}  # about in start order: the oldest first
        # Recently finished trace ids -> (error class, why), oldest first; pruned in bulk.
        self._finished: dict[str, _Ending] = {}
        self._runtime: _runtime.Runtime | None = None  # the runtime open traces belong to
        self._timeout_s = _config.Config.trace_timeout_s  # that runtime's trace timeout
        self._next_expiry = math.inf  # when the oldest open trace times out

    def start_trace(
        self,
        name: str,
        *,
        span_type: sc.SpanType | str = sc.SpanType.CHAIN,
        inputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
        tags: Tags | None = None,
        metadata: Mapping[str, Any] | None = None,
        trace_id: str | None = None,
        client_request_id: str | None = None,
        start_time_ns: int | None = None,
    ) -> GenAISpan:
        """Start a new trace and return its root span.

        Args:
            name: The root span's name (and the trace's).
            span_type: A :class:`~genai_trace.SpanType` or a custom string.
            inputs: What the trace receives; serialized now.
            attributes: Extra attributes of the root span.
            tags: Trace tags, a mapping or a list of strings.
            metadata: Trace metadata.
            trace_id: 32 hex digits to use as the OTel trace id itself (so W3C propagation
                and every backend show the same id); random when omitted.
            client_request_id: A free-form id of your own, kept on the trace;
                ``genai_trace.get_trace(client_request_id)`` finds the trace by it.
            start_time_ns: When the trace started, in ns since the epoch (replaying events).

        Returns:
            The root span; its ``trace_id`` and ``span_id`` name it in later calls.

        Raises:
            MalformedIdError: ``trace_id`` is not 32 hex digits, or is all zeros.
            DuplicateTraceError: ``trace_id`` names a trace already open in this client.

        Example:
            >>> root = client.start_trace(
            ...     "chat_turn", trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
            ...     client_request_id="req-42", tags={"env": "prod"},
            ... )
        """
        _check_name("start_trace", name)
        forced = None if trace_id is None else _parse_trace_id(trace_id, "start_trace")
        static = static_attributes(span_type, attributes)
        new_tags = None if tags is None else normalize_tags(tags, live.payload_cap)
        if metadata is not None:
            _check_type("start_trace", "metadata", metadata, Mapping, "a mapping")
        if client_request_id is not None:
            _check_type("start_trace", "client_request_id", client_request_id, str, "a str")
        if start_time_ns is not None:
            _check_time("start_trace", "start_time_ns", start_time_ns)
        rt = _runtime.get()
        if forced is None:
            entry = self._start_new_trace(rt, name, static, inputs, start_time_ns)
        else:
            entry = self._start_given_trace(rt, name, static, inputs, forced, start_time_ns)
        root = entry.root
        assert root is not None  # both set it before they return
        if (new_tags or metadata or client_request_id is not None) and root.is_recording():
            _set_trace_facts(
                entry.trace_id, new_tags or {}, dict(metadata or {}), client_request_id
            )
        return ClientSpan(root, entry.key, entry.root_key)

    def _start_new_trace(
        self,
        rt: _runtime.Runtime | None,
        name: str,
        attributes: dict[str, Any],
        inputs: Any,
        start_time_ns: int | None,
    ) -> _OpenTrace:
        # A fresh id is known to no one until this returns: start first, register after.
        # The clock starts before the span does, so the client gives a trace up no later
        # than the assembler's sweep exports it (see _sync_locked).
        created = time.monotonic()
        span = _start_client_span(rt, name, attributes, inputs, None, None, start_time_ns)
        ids = _ids(span)
        entry = _OpenTrace(ids.trace_id, format_trace_id(ids.trace_id), created)
        entry.root, entry.root_key = span, format_span_id(ids.span_id)
        with self._lock:
            self._sync_locked(rt, time.monotonic())
            self._register_locked(entry)
        return entry

    def _start_given_trace(
        self,
        rt: _runtime.Runtime | None,
        name: str,
        attributes: dict[str, Any],
        inputs: Any,
        forced: int,
        start_time_ns: int | None,
    ) -> _OpenTrace:
        # The caller chose the id, so another thread may name it already: register first.
        key = format_trace_id(forced)
        with self._lock:
            now = time.monotonic()
            self._sync_locked(rt, now)
            if key in self._traces:
                raise DuplicateTraceError(
                    f"start_trace: trace {key} is already open in this client; end it first "
                    "or choose another trace_id"
                )
            entry = _OpenTrace(forced, key, now)
            self._register_locked(entry)
        try:
            span = _start_client_span(rt, name, attributes, inputs, None, forced, start_time_ns)
        except BaseException:
            with self._lock:
                if self._traces.get(key) is entry:
                    del self._traces[key]
            raise
        root_key = format_span_id(_ids(span).span_id)
        with self._lock:
            # Set even if a reconfiguration forgot the entry meanwhile: start_trace returns it.
            entry.root, entry.root_key = span, root_key
        return entry

    def start_span(
        self,
        name: str,
        *,
        trace_id: str,
        parent_id: str,
        span_type: sc.SpanType | str = sc.SpanType.CHAIN,
        inputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
        start_time_ns: int | None = None,
    ) -> GenAISpan:
        """Start a span under ``parent_id`` in the open trace ``trace_id``.

        The parent may be the root, an open span, or a span of this trace that already
        ended (an asynchronous follow-up); the trace must still be open.

        Args:
            name: The span's name.
            trace_id: The trace, as returned by ``start_trace`` (``root.trace_id``).
            parent_id: The parent span's id (``root.span_id`` or another span's).
            span_type: A :class:`~genai_trace.SpanType` or a custom string.
            inputs: What the step receives; serialized now.
            attributes: Extra span attributes.
            start_time_ns: When the step started, in ns since the epoch.

        Returns:
            The new span, not made current (see ``genai_trace.use_span``).

        Raises:
            MalformedIdError: an id is not W3C-shaped.
            TraceNotFoundError: the trace was not started by this client.
            AlreadyEndedError: the trace already ended (:class:`TraceTimedOutError` if it
                timed out).
            WrongTraceError: ``parent_id`` is a span of another open trace.
            SpanNotFoundError: ``parent_id`` is no span of the trace.

        Example:
            >>> child = client.start_span(
            ...     "llm_call", trace_id=root.trace_id, parent_id=root.span_id,
            ...     span_type=SpanType.LLM, inputs=[{"role": "user", "content": "hi"}],
            ... )
        """
        _check_name("start_span", name)
        trace_key = self._checked_trace_key(trace_id, "start_span")
        parent_key = _span_key(parent_id, "start_span", "parent_id")
        static = static_attributes(span_type, attributes)
        if start_time_ns is not None:
            _check_time("start_span", "start_time_ns", start_time_ns)
        rt = _runtime.get()
        with self._lock:
            entry, parent = self._find_locked(
                rt, "start_span", trace_key, parent_key, "parent span"
            )
            entry.starting += 1
        try:
            span = _start_client_span(rt, name, static, inputs, parent, None, start_time_ns)
        except BaseException:
            with self._lock:
                entry.starting -= 1
            raise
        key = format_span_id(_ids(span).span_id)
        with self._lock:
            entry.starting -= 1
            if self._traces.get(entry.key) is entry:
                entry.open[key] = span
        return ClientSpan(span, entry.key, key)

    def end_span(
        self,
        *,
        trace_id: str,
        span_id: str,
        outputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
        status: str | StatusCode | Status | None = None,
        status_description: str | None = None,
        end_time_ns: int | None = None,
    ) -> None:
        """End a span that ``start_span`` started, recording its outputs and status.

        A span may end while its own children are still open (they end later); only the
        root is special, and it ends with :meth:`end_trace`.

        Args:
            trace_id: The span's trace.
            span_id: The span to end.
            outputs: What the step produced; serialized now.
            attributes: Attributes to add before ending.
            status: ``"OK"``, ``"ERROR"`` or ``"UNSET"``, a ``StatusCode`` or a ``Status``;
                left unchanged (UNSET) when omitted.
            status_description: Why, for status ERROR.
            end_time_ns: When the step ended, in ns since the epoch; not before its start.

        Raises:
            MalformedIdError: an id is not W3C-shaped.
            TraceNotFoundError: the trace was not started by this client.
            AlreadyEndedError: the span, or its trace, already ended.
            RootSpanError: ``span_id`` is the trace's root.
            WrongTraceError: ``span_id`` is a span of another open trace.
            SpanNotFoundError: ``span_id`` is no span of the trace.

        Example:
            >>> client.end_span(trace_id=child.trace_id, span_id=child.span_id,
            ...                 outputs={"answer": "42"}, status="OK")
        """
        trace_key = self._checked_trace_key(trace_id, "end_span")
        key = _span_key(span_id, "end_span", "span_id")
        new_status = _parse_status("end_span", status, status_description)
        if attributes is not None:
            _check_type("end_span", "attributes", attributes, Mapping, "a mapping")
        if end_time_ns is not None:
            _check_time("end_span", "end_time_ns", end_time_ns)
        rt = _runtime.get()
        with self._lock:
            entry, span = self._find_locked(rt, "end_span", trace_key, key, "span")
            if key == entry.root_key:
                raise RootSpanError(
                    f"end_span: span {key} is the root of trace {entry.key}; end it with "
                    "end_trace(trace_id=...)"
                )
            if key in entry.ended:
                raise AlreadyEndedError(
                    f"end_span: span {key} of trace {entry.key} already ended; a span ends once"
                )
            if end_time_ns is not None:
                _check_end_after_start("end_span", span, end_time_ns)
            entry.ended[key] = entry.open.pop(key)
            if _ended_elsewhere(span):
                raise AlreadyEndedError(
                    f"end_span: span {key} of trace {entry.key} was already ended outside the "
                    "client (GenAISpan.end or use_span(end_on_exit=True)); end client spans "
                    "with end_span"
                )
        _finish_client_span(span, outputs, attributes, new_status, end_time_ns)

    def end_trace(
        self,
        *,
        trace_id: str,
        outputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
        status: str | StatusCode | Status | None = None,
        status_description: str | None = None,
        end_time_ns: int | None = None,
        end_open_spans: bool = False,
    ) -> None:
        """End a trace's root span; the trace is exported once every span of it has ended.

        Spans the client started must have ended first: a forgotten one is a bug that would
        otherwise hold the trace until the timeout, so it is refused unless
        ``end_open_spans=True``, which ends each with status ERROR and the description
        :data:`ENDED_BY_END_TRACE`. Spans started by ``@trace``/``start_span`` inside
        ``use_span`` are not the client's: the trace waits for them as for any span.

        Args:
            trace_id: The trace to end.
            outputs: What the trace produced (its response preview).
            attributes: Attributes to add to the root span.
            status: As for :meth:`end_span`; ERROR makes the trace's state ERROR.
            status_description: Why, for status ERROR.
            end_time_ns: When the trace ended, in ns since the epoch; not before its start.
            end_open_spans: End the client's still-open spans of the trace instead of refusing.

        Raises:
            MalformedIdError: ``trace_id`` is not W3C-shaped.
            TraceNotFoundError: the trace was not started by this client.
            AlreadyEndedError: the trace already ended (:class:`TraceTimedOutError` if it
                timed out).
            OpenSpansError: spans of it are still open and ``end_open_spans`` is false.

        Example:
            >>> client.end_trace(trace_id=root.trace_id, outputs={"answer": "42"})
        """
        trace_key = self._checked_trace_key(trace_id, "end_trace")
        new_status = None
        if status is not None or status_description is not None:
            new_status = _parse_status("end_trace", status, status_description)
        if attributes is not None:
            _check_type("end_trace", "attributes", attributes, Mapping, "a mapping")
        if end_time_ns is not None:
            _check_time("end_trace", "end_time_ns", end_time_ns)
        rt = _runtime.get()
        children: list[trace_api.Span] = []
        with self._lock:
            entry, root = self._find_locked(rt, "end_trace", trace_key, None, "")
            if entry.open or entry.starting:
                children = _children_to_end(entry, end_open_spans)
            if end_time_ns is not None:
                _check_end_after_start("end_trace", root, end_time_ns)
            root_ended = _ended_elsewhere(root)
            self._forget_locked(entry, _ENDED)
        if children:
            end_ns = time.time_ns() if end_time_ns is None else end_time_ns
            marker = Status(StatusCode.ERROR, ENDED_BY_END_TRACE)
            for child in children:
                end = max(end_ns, _start_ns(child) or end_ns)
                _finish_client_span(child, None, None, marker, end)
        if root_ended:
            raise AlreadyEndedError(
                f"end_trace: the root span of trace {entry.key} was already ended outside the "
                "client (GenAISpan.end or use_span(end_on_exit=True)); the client forgot the "
                "trace"
            )
        _finish_client_span(root, outputs, attributes, new_status, end_time_ns)

    def _checked_trace_key(self, trace_id: object, call: str) -> str:
        """The trace id as a registry key, checked (before the lock: see the module docstring).

        The id of an open trace, as handed out, is found with a look at the registry without
        the lock: a hit proves only that the id is well formed, which is all this needs.
        """
        if type(trace_id) is str and trace_id in self._traces:
            return trace_id
        return _trace_key(trace_id, call)

    # --- registry, under self._lock ----------------------------------------------------------

    def _find_locked(
        self,
        rt: _runtime.Runtime | None,
        call: str,
        trace_key: str,
        span_key: str | None,
        role: str,
    ) -> tuple[_OpenTrace, trace_api.Span]:
        """The open trace and its span ``span_key`` (its root for ``None``); ids checked already.

        Raises the error that names the misuse: the trace is not open, or the span is not
        one of its spans.
        """
        self._sync_locked(rt, time.monotonic())
        entry = self._entry_locked(call, trace_key)
        root = entry.root
        assert root is not None  # _entry_locked refuses a trace still being started
        if span_key is None:
            return entry, root
        return entry, self._span_locked(call, entry, span_key, role)

    def _register_locked(self, entry: _OpenTrace) -> None:
        self._finished.pop(entry.key, None)  # a caller-given id may be used again
        self._traces[entry.key] = entry
        expiry = entry.created + self._timeout_s
        if expiry < self._next_expiry:
            self._next_expiry = expiry

    def _sync_locked(self, rt: _runtime.Runtime | None, now: float) -> None:
        """Forget traces the assembler has exported incomplete (timeout, reconfiguration)."""
        if rt is self._runtime and now < self._next_expiry:  # every call: nothing to do
            return
        if rt is not self._runtime:
            for entry in list(self._traces.values()):
                self._forget_locked(entry, _RECONFIGURED)
            self._runtime = rt
            self._timeout_s = (
                rt.config.trace_timeout_s if rt is not None else _config.Config.trace_timeout_s
            )
        timeout = self._timeout_s
        # Entries are in start order and the client's clock starts before the assembler's,
        # so the client forgets a trace no later than the assembler's sweep exports it.
        expired = []
        self._next_expiry = math.inf
        for entry in self._traces.values():
            if now - entry.created < timeout:
                self._next_expiry = entry.created + timeout
                break
            expired.append(entry)
        timed_out: _Ending = (
            TraceTimedOutError,
            f"it was open longer than trace_timeout_s={timeout:g} and was exported marked "
            "incomplete",
        )
        for entry in expired:
            self._forget_locked(entry, timed_out)

    def _forget_locked(self, entry: _OpenTrace, why: _Ending) -> None:
        del self._traces[entry.key]
        finished = self._finished
        # Not in it already: registering a trace drops its id's finished record.
        finished[entry.key] = why
        if len(finished) >= 2 * FINISHED_MEMORY:
            # In bulk: taking a dict's oldest entry one by one steps over deleted slots.
            self._finished = dict(itertools.islice(finished.items(), FINISHED_MEMORY, None))

    def _entry_locked(self, call: str, key: str) -> _OpenTrace:
        entry = self._traces.get(key)
        if entry is not None and entry.root is not None:
            return entry
        if entry is not None:
            raise TraceNotFoundError(
                f"{call}: trace {key} is still being started by start_trace on another thread"
            )
        finished = self._finished.get(key)
        if finished is not None:
            error, why = finished
            raise error(f"{call}: trace {key} is not open: {why}")
        raise TraceNotFoundError(
            f"{call}: trace {key} was not started by this TraceClient (or ended long ago); "
            "pass the trace_id of a span returned by start_trace"
        )

    def _span_locked(self, call: str, entry: _OpenTrace, key: str, role: str) -> trace_api.Span:
        span = entry.span(key)
        if span is not None:
            return span
        # Only misuse gets here, so the other open traces may be searched one by one.
        for other in self._traces.values():
            if other.span(key) is not None:
                raise WrongTraceError(
                    f"{call}: {role} {key} belongs to trace {other.key}, not to trace {entry.key}"
                )
        raise SpanNotFoundError(
            f"{call}: {role} {key} is not a span of trace {entry.key} started by this client"
        )

    def _open_counts(self) -> tuple[int, int, int]:
        """Open traces, known spans and remembered finished ids (for tests)."""
        with self._lock:
            known = sum(entry.span_count() for entry in self._traces.values())
            return len(self._traces), known, len(self._finished)


class _OpenTrace:
    """A trace this client started and has not ended. Guarded by the client's lock.

    Spans are keyed by their ids as lowercase hex, the form the client hands out.
    """

    __slots__ = ("created", "ended", "key", "open", "root", "root_key", "starting", "trace_id")

    def __init__(self, trace_id: int, key: str, created: float) -> None:
        self.trace_id = trace_id
        self.key = key
        self.created = created
        self.root: trace_api.Span | None = None  # None while start_trace is creating it
        self.root_key = ""
        self.open: dict[str, trace_api.Span] = {}
        # Ended children stay known until the trace ends: they may still parent new spans.
        self.ended: dict[str, trace_api.Span] = {}
        self.starting = 0  # start_span calls between their check and their registration

    def span(self, key: str) -> trace_api.Span | None:
        """The root or a child of this trace with that span id, open or ended."""
        if key == self.root_key:
            return self.root
        return self.open.get(key) or self.ended.get(key)

    def span_count(self) -> int:
        return (self.root is not None) + len(self.open) + len(self.ended)


def _children_to_end(entry: _OpenTrace, end_open_spans: bool) -> list[trace_api.Span]:
    """The client's still-open spans that end_trace ends for the caller; refuses if it may not.

    Spans already ended outside the client (``use_span(end_on_exit=True)``) count as ended.
    """
    for key, child in list(entry.open.items()):
        if _ended_elsewhere(child):
            entry.ended[key] = entry.open.pop(key)
    if entry.starting:
        raise OpenSpansError(
            f"end_trace: trace {entry.key} has {entry.starting} span(s) being started by "
            "start_span on other threads; end the trace after they return and end"
        )
    if entry.open and not end_open_spans:
        listed = ", ".join(f"{key} ({getattr(s, 'name', '?')!s})" for key, s in entry.open.items())
        raise OpenSpansError(
            f"end_trace: trace {entry.key} still has {len(entry.open)} open span(s): {listed}; "
            "end them with end_span first, or pass end_open_spans=True"
        )
    return list(entry.open.values())


# --- starting and ending OTel spans, never raising ------------------------------------------------


# Ids for placeholder spans when tracing is off (disabled, or shut down).
_PLACEHOLDER_IDS = GenAIIdGenerator()


class ClientSpan(GenAISpan):
    """A span that :class:`~genai_trace.TraceClient` started.

    Its ids are formatted once, exactly as the client's registry keys them, so passing
    ``span.trace_id`` back to the client finds the trace without parsing it.
    """

    __slots__ = ("_span_hex", "_trace_hex")

    def __init__(self, span: trace_api.Span, trace_hex: str, span_hex: str) -> None:
        super().__init__(span)
        self._trace_hex = trace_hex
        self._span_hex = span_hex

    @property
    def trace_id(self) -> str:
        """32 hex digits."""
        return self._trace_hex

    @property
    def span_id(self) -> str:
        """16 hex digits."""
        return self._span_hex


def _start_client_span(
    rt: _runtime.Runtime | None,
    name: str,
    attributes: dict[str, Any],
    inputs: Any,
    parent: trace_api.Span | None,
    forced_trace_id: int | None,
    start_time_ns: int | None,
) -> trace_api.Span:
    """Start an OTel span without touching the current context; a placeholder when off.

    Raises:
        TracingError: ``forced_trace_id`` was not taken (the provider has another id generator).
    """
    if rt is None or live.disabled or isinstance(parent, _Placeholder):
        return _placeholder(parent, forced_trace_id)
    name = clean_text(name)
    if inputs is not None and live.capture_content:
        # Redaction may wait for the trace's build, as for @trace (see SpanScope).
        room = rt.assembler.redaction_room()
        add_input(attributes, *payload_text(inputs, live.payload_cap, room, redactor=live.redactor))
    # The current context still supplies genai_trace.context() values and baggage; only the
    # parent is replaced (the invalid span makes a root). An empty context makes a root as
    # it is, and more cheaply: the SDK looks no further for a parent span.
    context = context_api.get_current()
    if parent is not None:
        context = trace_api.set_span_in_context(parent, context)
    elif context:
        context = trace_api.set_span_in_context(trace_api.INVALID_SPAN, context)
    try:
        if forced_trace_id is None:
            span = rt.tracer.start_span(
                name, context=context, attributes=attributes, start_time=start_time_ns
            )
        else:
            rt.id_generator.force_next_trace_id(forced_trace_id)
            try:
                span = rt.tracer.start_span(
                    name, context=context, attributes=attributes, start_time=start_time_ns
                )
            finally:
                rt.id_generator.force_next_trace_id(None)
    except Exception:
        log_internal_error("TraceClient starting a span")
        return _placeholder(parent, forced_trace_id)
    span_context = span.get_span_context()
    if not span_context.is_valid or (
        parent is not None and span_context.span_id == parent.get_span_context().span_id
    ):
        # No span was made: the SDK is disabled (OTEL_SDK_DISABLED), and its no-op tracer
        # hands back the parent itself, or the invalid span for a root.
        return _placeholder(parent, forced_trace_id)
    if forced_trace_id is not None and span_context.trace_id != forced_trace_id:
        span.end()
        raise TracingError(
            f"start_trace: the tracer did not take trace id {format_trace_id(forced_trace_id)}"
            " (its TracerProvider does not use genai-trace's id generator)"
        )
    return span


def _finish_client_span(
    span: trace_api.Span,
    outputs: Any,
    attributes: Mapping[str, Any] | None,
    status: Status | None,
    end_time_ns: int | None,
) -> None:
    """Record outputs, attributes and status, then end the span; never raises."""
    try:
        if attributes:
            GenAISpan(span).set_attributes(attributes)
        rt = _runtime.current()
        if outputs is not None and live.capture_content and rt is not None:
            text, mime = payload_text(
                outputs, live.payload_cap, rt.assembler.redaction_room(), redactor=live.redactor
            )
            set_output(span, text, mime)
        if status is not None:
            span.set_status(status)
        span.end(end_time_ns)
    except Exception:
        log_internal_error("TraceClient ending a span")


def _set_trace_facts(
    trace_id: int, tags: dict[str, str], metadata: dict[str, Any], client_request_id: str | None
) -> None:
    """Trace-level facts, the way ``update_current_trace`` sets them; never raises."""
    try:
        update_trace(trace_id, None, None, tags, metadata, None, None, client_request_id)
    except Exception:
        log_internal_error("TraceClient.start_trace trace facts")


def _ended_elsewhere(span: trace_api.Span) -> bool:
    """An SDK span whose ``end()`` was already called (by something other than the client)."""
    return isinstance(getattr(span, "end_time", None), int)


class _Placeholder(trace_api.NonRecordingSpan):
    """The client's span when tracing is off: real ids, but an invalid OTel context.

    The ids (``ids``) serve the client's bookkeeping; everything else sees the invalid
    context. Made current (``use_span``), it propagates nothing, as OpenTelemetry's own
    no-op spans: a valid but unsampled ``traceparent`` would make a downstream parent-based sampler
    drop the trace that service records itself.
    """

    def __init__(self, ids: trace_api.SpanContext) -> None:
        super().__init__(trace_api.INVALID_SPAN_CONTEXT)
        self.ids = ids


def _ids(span: trace_api.Span) -> trace_api.SpanContext:
    """The ids the client knows ``span`` by (a placeholder's own, not its OTel context)."""
    return span.ids if isinstance(span, _Placeholder) else span.get_span_context()


def _placeholder(parent: trace_api.Span | None, forced_trace_id: int | None) -> trace_api.Span:
    """A non-recording span with real ids, so the caller's later calls still line up."""
    if parent is not None:
        trace_int = _ids(parent).trace_id
    elif forced_trace_id is not None:
        trace_int = forced_trace_id
    else:
        trace_int = _PLACEHOLDER_IDS.generate_trace_id()
    ids = trace_api.SpanContext(trace_int, _PLACEHOLDER_IDS.generate_span_id(), is_remote=False)
    return _Placeholder(ids)


# --- argument checks: every misuse named, with the id and the call --------------------------------

# Exactly the digits: int(text, 16) alone would also take "0x", "_", signs and spaces.
_HEX_ID = {digits: re.compile(f"[0-9a-fA-F]{{{digits}}}") for digits in (16, 32)}
# Ids as the client hands them out (lowercase) need no conversion to be registry keys.
_KEY = {digits: re.compile(f"[0-9a-f]{{{digits}}}") for digits in (16, 32)}


def _span_int(span: trace_api.Span) -> int:
    return _ids(span).span_id


def _start_ns(span: trace_api.Span) -> int | None:
    value = getattr(span, "start_time", None)
    return value if isinstance(value, int) else None


def _trace_key(value: object, call: str) -> str:
    """The trace id as the client's registry keys it (lowercase hex), checked.

    An id already in that form is kept as it is; any other is parsed (and refused as
    :func:`_parse_trace_id` refuses it) and formatted.
    """
    return _hex_key(value, 32, call, "trace_id", "trace")


def _span_key(value: object, call: str, argument: str) -> str:
    """The span id as the client's registry keys it (lowercase hex), checked."""
    return _hex_key(value, 16, call, argument, "span")


def _parse_trace_id(value: object, call: str) -> int:
    return _parse_hex(value, 32, call, "trace_id", "trace")


def _hex_key(value: object, digits: int, call: str, argument: str, kind: str) -> str:
    if type(value) is str and _KEY[digits].fullmatch(value) and value != "0" * digits:
        return value
    return "%0*x" % (digits, _parse_hex(value, digits, call, argument, kind))  # noqa: UP031


def _parse_hex(value: object, digits: int, call: str, argument: str, kind: str) -> int:
    """The id as an int; either case accepted, all zeros refused (W3C's invalid id)."""
    if isinstance(value, str) and _HEX_ID[digits].fullmatch(value):
        number = int(value, 16)
        if number:
            return number
    raise _malformed(value, digits, call, argument, kind)


def _malformed(value: object, digits: int, call: str, argument: str, kind: str) -> MalformedIdError:
    """The error for an id that is not ``digits`` hex digits, or is all zeros."""
    if isinstance(value, str) and value == "0" * digits:
        problem = "all zeros, which W3C reserves for an invalid id"
    elif isinstance(value, str):
        problem = f"{len(value)} characters, not all hex digits"
        if len(value) == digits:
            problem = "not all hex digits"
        if kind == "trace":
            problem += "; for a free-form id of your own use client_request_id"
    else:
        problem = f"of type {type(value).__name__}, not str"
    return MalformedIdError(
        f"{call}: {argument} {value!r} is not a {kind} id ({digits} hex digits): it is {problem}"
    )


def _parse_status(
    call: str, status: str | StatusCode | Status | None, description: str | None
) -> Status | None:
    if description is not None and not isinstance(description, str):
        raise TypeError(f"{call}(status_description=...) must be a str, got {description!r}")
    if status is None:
        if description is not None:
            raise ValueError(f"{call}: status_description needs status='ERROR'")
        return None
    if isinstance(status, Status):
        return status if description is None else Status(status.status_code, description)
    if isinstance(status, str) and status.upper() in sc.STATUS_CODES:
        status = sc.STATUS_CODES[status.upper()]
    if not isinstance(status, StatusCode):
        raise ValueError(
            f"{call}(status=...) must be 'OK', 'ERROR', 'UNSET', a StatusCode or a Status, "
            f"got {status!r}"
        )
    return Status(status, description if status is StatusCode.ERROR else None)


def _check_name(call: str, name: object) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{call}() name must be a str, got {name!r}")


def _check_type(call: str, argument: str, value: object, kind: type, expected: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{call}({argument}=...) must be {expected}, got {value!r}")


def _check_time(call: str, argument: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{call}({argument}=...) must be an int of ns since the epoch, got {value!r}"
        )
    if value < 0:
        raise ValueError(f"{call}({argument}=...) must not be negative, got {value}")


def _check_end_after_start(call: str, span: trace_api.Span, end_time_ns: int | None) -> None:
    start = _start_ns(span)
    if end_time_ns is not None and start is not None and end_time_ns < start:
        raise ValueError(
            f"{call}: end_time_ns={end_time_ns} is before the start of span "
            f"{format_span_id(_span_int(span))} ({start})"
        )
