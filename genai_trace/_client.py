"""TraceClient: the low-level API with explicit ids, for code that cannot nest ``with`` blocks.

Callbacks, queues, event replays and servers that start work in one request and finish it in
another name their spans by id instead. The client keeps a registry of the traces it started
and their spans; every call is checked against it, and misuse raises a specific
:class:`~genai_trace.TracingError` subclass whose message names the id and the problem.

Locking: one lock per client guards the registry. It is held for dict operations only: no
I/O, no user code and no span method runs under it. Spans are started and ended outside it,
so a span processor that calls back into the client cannot deadlock.

Forgetting: an entry lives until its ``end_trace``, or until the trace is older than
``trace_timeout_s`` (the assembler then exports it marked incomplete), or until genai-trace is
reconfigured or shut down (which exports open traces marked incomplete too). The client checks
this at each call, so nothing is held forever and a late call gets :class:`TraceTimedOutError`.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.trace import Status, StatusCode

from genai_trace import _config, _redact, _runtime
from genai_trace import _semconv as sc
from genai_trace._capture import payload_text
from genai_trace._client_checks import (
    AlreadyEndedError,
    DuplicateTraceError,
    OpenSpansError,
    RootSpanError,
    SpanNotFoundError,
    TraceNotFoundError,
    TraceTimedOutError,
    WrongTraceError,
    _check_end_after_start,
    _check_name,
    _check_time,
    _check_type,
    _parse_span_id,
    _parse_status,
    _parse_trace_id,
    _span_int,
    _start_ns,
)
from genai_trace._errors import TracingError, log_internal_error
from genai_trace._fluent import _update_trace, static_attributes
from genai_trace._ids import GenAIIdGenerator, format_span_id, format_trace_id
from genai_trace._scope import Tags, normalize_tags
from genai_trace._span import GenAISpan

FINISHED_MEMORY = 1024
"""How many finished trace ids a client remembers, to say "already ended" rather than "unknown"."""
ENDED_BY_END_TRACE = "still open when end_trace(end_open_spans=True) ended its trace"
"""Status description of a child span that ``end_trace`` ended on the caller's behalf."""

# Ids for placeholder spans when tracing is off (disabled, or shut down).
_PLACEHOLDER_IDS = GenAIIdGenerator()


class _OpenTrace:
    """A trace this client started and has not ended. Guarded by the client's lock."""

    __slots__ = ("created", "ended", "open", "root", "starting", "trace_id")

    def __init__(self, trace_id: int, created: float) -> None:
        self.trace_id = trace_id
        self.created = created
        self.root: trace_api.Span | None = None  # None while start_trace is creating it
        self.open: dict[int, trace_api.Span] = {}
        # Ended children stay known until the trace ends: they may still parent new spans.
        self.ended: dict[int, trace_api.Span] = {}
        self.starting = 0  # start_span calls between their check and their registration


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
        self._traces: dict[int, _OpenTrace] = {}  # in start order: the oldest first
        self._trace_of_span: dict[int, int] = {}  # span id -> trace id, for open traces
        # Recently finished trace ids -> (error class, why), oldest first, bounded.
        self._finished: OrderedDict[int, tuple[type[AlreadyEndedError], str]] = OrderedDict()
        self._runtime: _runtime.Runtime | None = None  # the runtime open traces belong to

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
        new_tags = normalize_tags(tags)
        _check_type("start_trace", "metadata", metadata, Mapping, "a mapping")
        _check_type("start_trace", "client_request_id", client_request_id, str, "a str")
        _check_time("start_trace", "start_time_ns", start_time_ns)
        rt = _runtime.get()
        if forced is None:
            span = self._start_new_trace(rt, name, static, inputs, start_time_ns)
        else:
            span = self._start_given_trace(rt, name, static, inputs, forced, start_time_ns)
        trace_int = span.get_span_context().trace_id
        if span.is_recording() and (new_tags or metadata or client_request_id is not None):
            _set_trace_facts(trace_int, new_tags, dict(metadata or {}), client_request_id)
        return GenAISpan(span)

    def _start_new_trace(
        self,
        rt: _runtime.Runtime | None,
        name: str,
        attributes: dict[str, Any],
        inputs: Any,
        start_time_ns: int | None,
    ) -> trace_api.Span:
        # A fresh id is known to no one until this returns: start first, register after.
        # The clock starts before the span does, so the client gives a trace up no later
        # than the assembler's sweep exports it (see _sync_locked).
        created = time.monotonic()
        span = _start_span(rt, name, attributes, inputs, None, None, start_time_ns)
        trace_int = span.get_span_context().trace_id
        with self._lock:
            self._sync_locked(rt)
            self._finished.pop(trace_int, None)
            entry = self._traces[trace_int] = _OpenTrace(trace_int, created)
            entry.root = span
            self._trace_of_span[_span_int(span)] = trace_int
        return span

    def _start_given_trace(
        self,
        rt: _runtime.Runtime | None,
        name: str,
        attributes: dict[str, Any],
        inputs: Any,
        forced: int,
        start_time_ns: int | None,
    ) -> trace_api.Span:
        # The caller chose the id, so another thread may name it already: register first.
        with self._lock:
            self._sync_locked(rt)
            if forced in self._traces:
                raise DuplicateTraceError(
                    f"start_trace: trace {format_trace_id(forced)} is already open in this "
                    "client; end it first or choose another trace_id"
                )
            self._finished.pop(forced, None)
            entry = self._traces[forced] = _OpenTrace(forced, time.monotonic())
        try:
            span = _start_span(rt, name, attributes, inputs, None, forced, start_time_ns)
        except BaseException:
            with self._lock:
                if self._traces.get(forced) is entry:
                    del self._traces[forced]
            raise
        with self._lock:
            if self._traces.get(forced) is entry:
                entry.root = span
                self._trace_of_span[_span_int(span)] = forced
        return span

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
        trace_int = _parse_trace_id(trace_id, "start_span")
        parent_int = _parse_span_id(parent_id, "start_span", "parent_id")
        static = static_attributes(span_type, attributes)
        _check_time("start_span", "start_time_ns", start_time_ns)
        rt = _runtime.get()
        with self._lock:
            self._sync_locked(rt)
            entry = self._entry_locked("start_span", trace_int)
            parent = self._span_locked("start_span", entry, parent_int, "parent span")
            entry.starting += 1
        try:
            span = _start_span(rt, name, static, inputs, parent, None, start_time_ns)
        except BaseException:
            with self._lock:
                entry.starting -= 1
            raise
        span_int = span.get_span_context().span_id
        with self._lock:
            entry.starting -= 1
            if self._traces.get(trace_int) is entry:
                entry.open[span_int] = span
                self._trace_of_span[span_int] = trace_int
        return GenAISpan(span)

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
        trace_int = _parse_trace_id(trace_id, "end_span")
        span_int = _parse_span_id(span_id, "end_span", "span_id")
        new_status = _parse_status("end_span", status, status_description)
        _check_type("end_span", "attributes", attributes, Mapping, "a mapping")
        _check_time("end_span", "end_time_ns", end_time_ns)
        rt = _runtime.get()
        with self._lock:
            self._sync_locked(rt)
            entry = self._entry_locked("end_span", trace_int)
            if entry.root is not None and span_int == _span_int(entry.root):
                raise RootSpanError(
                    f"end_span: span {span_id.lower()} is the root of trace "
                    f"{trace_id.lower()}; end it with end_trace(trace_id=...)"
                )
            span = self._span_locked("end_span", entry, span_int, "span")
            if span_int in entry.ended:
                raise AlreadyEndedError(
                    f"end_span: span {span_id.lower()} of trace {trace_id.lower()} "
                    "already ended; a span ends once"
                )
            _check_end_after_start("end_span", span, end_time_ns)
            del entry.open[span_int]
            entry.ended[span_int] = span
            if _ended_elsewhere(span):
                raise AlreadyEndedError(
                    f"end_span: span {span_id.lower()} of trace {trace_id.lower()} was "
                    "already ended outside the client (GenAISpan.end or "
                    "use_span(end_on_exit=True)); end client spans with end_span"
                )
        _finish(span, outputs, attributes, new_status, end_time_ns)

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
        trace_int = _parse_trace_id(trace_id, "end_trace")
        new_status = _parse_status("end_trace", status, status_description)
        _check_type("end_trace", "attributes", attributes, Mapping, "a mapping")
        _check_time("end_trace", "end_time_ns", end_time_ns)
        rt = _runtime.get()
        with self._lock:
            self._sync_locked(rt)
            entry = self._entry_locked("end_trace", trace_int)
            root = entry.root
            assert root is not None  # _entry_locked refuses a trace still being started
            for span_int, child in list(entry.open.items()):
                if _ended_elsewhere(child):  # e.g. by use_span(end_on_exit=True): it ended
                    entry.ended[span_int] = entry.open.pop(span_int)
            _check_open_spans(entry, end_open_spans)
            _check_end_after_start("end_trace", root, end_time_ns)
            children = list(entry.open.values())
            root_ended = _ended_elsewhere(root)
            self._forget_locked(entry, AlreadyEndedError, "it already ended")
        if children:
            end_ns = time.time_ns() if end_time_ns is None else end_time_ns
            marker = Status(StatusCode.ERROR, ENDED_BY_END_TRACE)
            for child in children:
                _finish(child, None, None, marker, max(end_ns, _start_ns(child) or end_ns))
        if root_ended:
            raise AlreadyEndedError(
                f"end_trace: the root span of trace {format_trace_id(trace_int)} was already "
                "ended outside the client (GenAISpan.end or use_span(end_on_exit=True)); "
                "the client forgot the trace"
            )
        _finish(root, outputs, attributes, new_status, end_time_ns)

    # --- registry, under self._lock ----------------------------------------------------------

    def _sync_locked(self, rt: _runtime.Runtime | None) -> None:
        """Forget traces the assembler has exported incomplete (timeout, reconfiguration)."""
        if rt is not self._runtime:
            for entry in list(self._traces.values()):
                self._forget_locked(
                    entry,
                    TraceTimedOutError,
                    "genai_trace was reconfigured or shut down while it was open, so it was "
                    "exported marked incomplete",
                )
            self._runtime = rt
        timeout = rt.config.trace_timeout_s if rt is not None else _config.Config.trace_timeout_s
        now = time.monotonic()
        # Entries are in start order and the client's clock starts before the assembler's,
        # so the client forgets a trace no later than the assembler's sweep exports it.
        while self._traces:
            oldest = next(iter(self._traces.values()))
            if now - oldest.created < timeout:
                break
            self._forget_locked(
                oldest,
                TraceTimedOutError,
                f"it was open longer than trace_timeout_s={timeout:g} and was exported "
                "marked incomplete",
            )

    def _forget_locked(self, entry: _OpenTrace, error: type[AlreadyEndedError], why: str) -> None:
        del self._traces[entry.trace_id]
        for span_int in (*entry.open, *entry.ended):
            self._trace_of_span.pop(span_int, None)
        if entry.root is not None:
            self._trace_of_span.pop(_span_int(entry.root), None)
        self._finished[entry.trace_id] = (error, why)
        self._finished.move_to_end(entry.trace_id)
        while len(self._finished) > FINISHED_MEMORY:
            self._finished.popitem(last=False)

    def _entry_locked(self, call: str, trace_int: int) -> _OpenTrace:
        entry = self._traces.get(trace_int)
        if entry is not None and entry.root is not None:
            return entry
        hex_id = format_trace_id(trace_int)
        if entry is not None:
            raise TraceNotFoundError(
                f"{call}: trace {hex_id} is still being started by start_trace on another thread"
            )
        finished = self._finished.get(trace_int)
        if finished is not None:
            error, why = finished
            raise error(f"{call}: trace {hex_id} is not open: {why}")
        raise TraceNotFoundError(
            f"{call}: trace {hex_id} was not started by this TraceClient (or ended long ago); "
            "pass the trace_id of a span returned by start_trace"
        )

    def _span_locked(
        self, call: str, entry: _OpenTrace, span_int: int, role: str
    ) -> trace_api.Span:
        root = entry.root
        if root is not None and span_int == _span_int(root):
            return root
        span = entry.open.get(span_int) or entry.ended.get(span_int)
        if span is not None:
            return span
        hex_id, trace_hex = format_span_id(span_int), format_trace_id(entry.trace_id)
        other = self._trace_of_span.get(span_int)
        if other is not None:
            raise WrongTraceError(
                f"{call}: {role} {hex_id} belongs to trace {format_trace_id(other)}, "
                f"not to trace {trace_hex}"
            )
        raise SpanNotFoundError(
            f"{call}: {role} {hex_id} is not a span of trace {trace_hex} started by this client"
        )

    def _open_counts(self) -> tuple[int, int, int]:
        """Open traces, known spans and remembered finished ids (for tests)."""
        with self._lock:
            return len(self._traces), len(self._trace_of_span), len(self._finished)


def _start_span(
    rt: _runtime.Runtime | None,
    name: str,
    attributes: dict[str, Any],
    inputs: Any,
    parent: trace_api.Span | None,
    forced_trace_id: int | None,
    start_time_ns: int | None,
) -> trace_api.Span:
    """Start an OTel span without touching the current context; a placeholder when off."""
    if rt is None or _runtime.disabled:
        return _placeholder(parent, forced_trace_id)
    if inputs is not None and _redact.capture_content:
        # Redaction may wait for the trace's build, as for @trace (see SpanScope).
        text, mime = payload_text(
            inputs, rt.config.max_payload_chars, rt.assembler.redaction_room()
        )
        attributes[sc.INPUT_VALUE], attributes[sc.INPUT_MIME_TYPE] = text, mime
    # The current context still supplies genai_trace.context() values and baggage; only the
    # parent is replaced (the invalid span makes a root).
    context = trace_api.set_span_in_context(
        parent if parent is not None else trace_api.INVALID_SPAN, context_api.get_current()
    )
    try:
        if forced_trace_id is not None:
            rt.id_generator.force_next_trace_id(forced_trace_id)
        try:
            span = rt.tracer.start_span(
                name, context=context, attributes=attributes, start_time=start_time_ns
            )
        finally:
            if forced_trace_id is not None:
                rt.id_generator.force_next_trace_id(None)
    except Exception:
        log_internal_error("TraceClient starting a span")
        return _placeholder(parent, forced_trace_id)
    span_context = span.get_span_context()
    if not span_context.is_valid:  # the SDK is disabled (OTEL_SDK_DISABLED)
        return _placeholder(parent, forced_trace_id)
    if forced_trace_id is not None and span_context.trace_id != forced_trace_id:
        span.end()
        raise TracingError(
            f"start_trace: the tracer did not take trace id {format_trace_id(forced_trace_id)}"
            " (its TracerProvider does not use genai-trace's id generator)"
        )
    return span


def _set_trace_facts(
    trace_id: int, tags: dict[str, str], metadata: dict[str, Any], client_request_id: str | None
) -> None:
    """Trace-level facts, the way ``update_current_trace`` sets them."""
    try:
        _update_trace(trace_id, None, None, tags, metadata, None, None, client_request_id)
    except Exception:
        log_internal_error("TraceClient.start_trace trace facts")


def _placeholder(parent: trace_api.Span | None, forced_trace_id: int | None) -> trace_api.Span:
    """A non-recording span with real ids, so the caller's later calls still line up."""
    if parent is not None:
        trace_int = parent.get_span_context().trace_id
    elif forced_trace_id is not None:
        trace_int = forced_trace_id
    else:
        trace_int = _PLACEHOLDER_IDS.generate_trace_id()
    context = trace_api.SpanContext(trace_int, _PLACEHOLDER_IDS.generate_span_id(), is_remote=False)
    return trace_api.NonRecordingSpan(context)


def _finish(
    span: trace_api.Span,
    outputs: Any,
    attributes: Mapping[str, Any] | None,
    status: Status | None,
    end_time_ns: int | None,
) -> None:
    try:
        if attributes:
            GenAISpan(span).set_attributes(attributes)
        rt = _runtime.current()
        if outputs is not None and _redact.capture_content and rt is not None:
            text, mime = payload_text(
                outputs, rt.config.max_payload_chars, rt.assembler.redaction_room()
            )
            span.set_attributes({sc.OUTPUT_VALUE: text, sc.OUTPUT_MIME_TYPE: mime})
        if status is not None:
            span.set_status(status)
        span.end(end_time_ns)
    except Exception:
        log_internal_error("TraceClient ending a span")


def _check_open_spans(entry: _OpenTrace, end_open_spans: bool) -> None:
    if not entry.starting and (not entry.open or end_open_spans):
        return
    hex_id = format_trace_id(entry.trace_id)
    if entry.starting:
        raise OpenSpansError(
            f"end_trace: trace {hex_id} has {entry.starting} span(s) being started by "
            "start_span on other threads; end the trace after they return and end"
        )
    if entry.open and not end_open_spans:
        listed = ", ".join(
            f"{format_span_id(i)} ({getattr(s, 'name', '?')!s})" for i, s in entry.open.items()
        )
        raise OpenSpansError(
            f"end_trace: trace {hex_id} still has {len(entry.open)} open span(s): {listed}; "
            "end them with end_span first, or pass end_open_spans=True"
        )


def _ended_elsewhere(span: trace_api.Span) -> bool:
    """An SDK span whose ``end()`` was already called (by something other than the client)."""
    return isinstance(getattr(span, "end_time", None), int)
