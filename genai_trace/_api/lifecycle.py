"""The runtime's lifecycle, as the app drives it: configure, flush, shut down, switch off.

Also what the app asks the runtime about itself (:func:`is_enabled`, :func:`stats`). Reading
traces back is in ``reading``.

Layer: ``_api``; imports ``_runtime`` (which owns the live state) and ``_runtime.config``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from genai_trace._runtime import state as _runtime
from genai_trace._runtime.config import Config
from genai_trace._runtime.live import live

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from genai_trace._runtime.pipeline import Destination
    from genai_trace.exporters._base import TraceExporter


def configure(
    *,
    service_name: str | None = None,
    project_name: str | None = None,
    exporters: Sequence[TraceExporter] | None = None,
    tracer_provider: TracerProvider | None = None,
    **settings: Any,
) -> Config:
    """Configure genai-trace; optional, since the first span configures from the environment.

    Every setting also has an environment variable (docs/configuration.md); an argument
    here beats the variable, which beats the default. Calling it again replaces the
    configuration (pending traces of the old one are flushed first).

    Args:
        service_name: ``service.name`` of the provider genai-trace creates when the app has none.
        project_name: Project for backends that group by it (Phoenix).
        exporters: Where complete traces go, replacing the defaults.
        tracer_provider: An SDK ``TracerProvider`` to use instead of the global one.
        **settings: Any other field of :class:`genai_trace.Config`, for example
            ``max_payload_chars=20_000``, ``trace_timeout_s=60``, ``disabled=True``.

    Returns:
        The configuration in force.

    Raises:
        TypeError: an unknown setting or a value of the wrong type.
        ValueError: a value out of range.

    Example:
        >>> genai_trace.configure(service_name="support-bot", max_payload_chars=20_000)
    """
    explicit: dict[str, Any] = dict(settings)
    for key, value in (
        ("service_name", service_name),
        ("project_name", project_name),
        ("exporters", exporters),
        ("tracer_provider", tracer_provider),
    ):
        if value is not None:
            explicit[key] = value
    return _runtime.configure(**explicit)


def flush(timeout_s: float | None = None) -> bool:
    """Export every trace completed so far; ``False`` if ``timeout_s`` ran out first."""
    rt = _runtime.current()
    return True if rt is None else rt.flush(timeout_s)


def shutdown(timeout_s: float | None = None) -> None:
    """Flush (within ``timeout_s``) and stop exporting; idempotent, also run at exit.

    Traces still open are exported marked incomplete. Spans after this are not recorded
    until :func:`configure` is called again.
    """
    _runtime.shutdown(timeout_s)


def flush_on_exit_signals(
    signals: Iterable[int] = (signal.SIGTERM,), *, timeout_s: float | None = None
) -> None:
    """Export completed traces when the process is told to stop, then stop as it would have.

    A SIGTERM ends a process without running ``atexit``, so traces completed but not yet
    exported would be lost. This installs a handler for each signal that first flushes
    (within ``timeout_s``, default ``exit_flush_timeout_s``) and then hands the signal on:
    to the handler installed before it (a framework's graceful shutdown), or, where that
    was the default action, raises the signal again so the process ends as it would have,
    with the same exit status. Calling it again changes nothing. Call it from the main
    thread, after any framework has installed its own handlers.

    Args:
        signals: The signals to handle; SIGTERM by default.
        timeout_s: How long the flush may take; ``None`` uses ``exit_flush_timeout_s``.

    Raises:
        ValueError: not called from the main thread (a rule of Python's ``signal``), or a
            negative ``timeout_s``.

    Example:
        >>> genai_trace.flush_on_exit_signals()  # in a worker that is stopped with SIGTERM
    """
    if timeout_s is not None and not timeout_s >= 0:
        raise ValueError(f"timeout_s must be seconds, at least 0, got {timeout_s!r}")
    if threading.current_thread() is not threading.main_thread():
        raise ValueError(
            "flush_on_exit_signals() must be called from the main thread "
            "(Python only lets the main thread install signal handlers)"
        )
    for signum in signals:
        previous = signal.getsignal(signum)
        if getattr(previous, "_genai_trace_flush", False):
            continue
        signal.signal(signum, _runtime.flushing_signal_handler(previous, timeout_s))


def disable() -> None:
    """Stop recording: traced functions run as if undecorated (``GENAI_TRACE_DISABLED=1``)."""
    _runtime.set_disabled(True)


def enable() -> None:
    """Record again after :func:`disable`."""
    _runtime.set_disabled(False)


def is_enabled() -> bool:
    """Whether spans are being recorded."""
    return not live.disabled


def stats() -> dict[str, Any]:
    """Counters since the last ``configure``: traces completed, skipped, dropped, incomplete.

    ``destinations`` has, per exporter, the traces ``exported``, ``failed`` (the exporter
    gave up, after its own retries) and ``dropped`` (its queue was full, or shutdown ran out
    of time); a destination with a tail sampler adds ``sampled_out`` (the traces it chose not
    to send), and the local store ``pruned`` (old traces deleted by its retention limits).
    Once feedback was logged, a destination that takes feedback adds ``feedback_exported``
    and ``feedback_failed``; the local store also ``feedback_stored``, ``feedback_pending``
    (waiting for their trace) and ``feedback_lost`` (their trace never reached the store:
    an unknown id).
    Nothing is dropped without being counted here.
    """
    rt = _runtime.current()
    if rt is None:
        return {}
    pipeline = rt.pipeline
    return {
        "traces_in_assembly": rt.assembler.open_trace_count(),
        "traces_completed": pipeline.completed,
        "traces_skipped_without_genai_span": pipeline.skipped_non_genai,
        **rt.assembler_counts(),
        "destinations": {
            d.name: {
                "exported": d.exported,
                "failed": d.failed,
                "dropped": d.dropped,
                **({"sampled_out": d.sampled_out} if d.samples else {}),
                **_pruned(d.exporter),
                **_feedback_counts(d),
            }
            for d in pipeline.destinations
        },
    }


def _pruned(exporter: object) -> dict[str, int]:
    """An exporter that deletes old traces (the local store) counts them."""
    pruned = getattr(exporter, "pruned", None)
    return {"pruned": pruned} if isinstance(pruned, int) else {}


def _feedback_counts(destination: Destination) -> dict[str, int]:
    if not destination.takes_feedback:
        return {}
    counts = {
        "feedback_exported": destination.feedback_exported,
        "feedback_failed": destination.feedback_failed,
    }
    lost = getattr(destination.exporter, "feedback_lost", None)  # an OTLP exporter's
    if isinstance(lost, int):
        counts["feedback_lost"] = lost
    inbox = getattr(destination.exporter, "feedback", None)  # the local store's
    for name in ("stored", "pending", "lost"):
        value = getattr(inbox, name, None)
        if isinstance(value, int):
            counts[f"feedback_{name}"] = value
    # Shown once feedback was logged: the counters of an app without feedback stay as they were.
    return counts if any(counts.values()) else {}
