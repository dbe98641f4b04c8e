"""Carry the current OpenTelemetry context into threads and thread pools.

A span started in a ``threading.Thread`` or a ``ThreadPoolExecutor`` task nests under the
span that started the thread or submitted the task, in the same trace. This is what the
contrib ``opentelemetry-instrumentation-threading`` does; we do it ourselves because that
package pins the whole OTel family to one release (see pyproject.toml).

``Thread.start`` wraps the thread's ``run`` (on the instance, so subclasses that override
``run`` and ``threading.Timer`` are covered) to attach the starter's context;
``ThreadPoolExecutor.submit`` wraps the task the same way. Both capture the context of
the calling thread, as the contrib instrumentation does, so when an app turns that on too
each layer attaches the same context: the parent stays the same.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from opentelemetry import context

from genai_trace._errors import log_internal_error

R = TypeVar("R")

_MARK = "_genai_trace_propagates"
_install_lock = threading.Lock()
_enabled = False


def propagate_into_threads(enabled: bool) -> None:
    """Turn propagation on or off. Patches once (idempotent); later calls flip the switch."""
    global _enabled
    _enabled = enabled
    if not enabled:
        return
    with _install_lock:
        # A wrapper installed over ours (the contrib instrumentor's wrapt proxy) forwards
        # attribute reads to ours, so the mark is found through it.
        if not getattr(threading.Thread.start, _MARK, False):
            start = _wrap_start(threading.Thread.start)
            threading.Thread.start = start  # type: ignore[method-assign, assignment]
        if not getattr(ThreadPoolExecutor.submit, _MARK, False):
            ThreadPoolExecutor.submit = _wrap_submit(ThreadPoolExecutor.submit)  # type: ignore[method-assign]


def _in_context(ctx: context.Context, fn: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(fn)
    def run_in_context(*args: Any, **kwargs: Any) -> R:
        token = context.attach(ctx)
        try:
            return fn(*args, **kwargs)
        finally:
            context.detach(token)

    return run_in_context


def _current() -> context.Context | None:
    """The context to carry, or ``None`` when off or when there is nothing to carry."""
    if not _enabled:
        return None
    ctx = context.get_current()
    return ctx if ctx else None


def _wrap_start(start: Callable[[threading.Thread], None]) -> Callable[[threading.Thread], None]:
    @functools.wraps(start)
    def start_in_context(self: threading.Thread) -> None:
        try:
            ctx = _current()
            if ctx is not None:
                _run_in_context(self, ctx)
        except Exception:
            log_internal_error("thread context propagation")
        start(self)

    setattr(start_in_context, _MARK, True)
    return start_in_context


def _run_in_context(thread: threading.Thread, ctx: context.Context) -> None:
    run = thread.run

    def run_in_context() -> None:
        token = context.attach(ctx)
        try:
            run()
        finally:
            context.detach(token)
            # Drop the instance attribute: it refers back to the thread (a cycle otherwise).
            thread.__dict__.pop("run", None)

    thread.run = run_in_context  # type: ignore[method-assign]


def _wrap_submit(submit: Callable[..., Future[Any]]) -> Callable[..., Future[Any]]:
    @functools.wraps(submit)
    def submit_in_context(
        self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> Future[Any]:
        try:
            ctx = _current()
            if ctx is not None:
                fn = _in_context(ctx, fn)
        except Exception:
            log_internal_error("thread pool context propagation")
        return submit(self, fn, *args, **kwargs)

    setattr(submit_in_context, _MARK, True)
    return submit_in_context
