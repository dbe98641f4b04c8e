"""Module-level controls: configure, flush, shutdown, enable/disable, trace look-ups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from genai_trace import _runtime
from genai_trace._config import Config
from genai_trace._model import Trace

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from genai_trace.exporters._base import TraceExporter

_LOOKUP_FLUSH_TIMEOUT_S = 5.0


def configure(
    *,
    service_name: str | None = None,
    project_name: str | None = None,
    exporters: Sequence[TraceExporter] | None = None,
    tracer_provider: TracerProvider | None = None,
    **settings: Any,
) -> Config:
    """Configure genai-trace; optional, since the first span configures from the environment.

    Every setting also has an environment variable (see the README's table); an argument
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


def disable() -> None:
    """Stop recording: traced functions run as if undecorated (``GENAI_TRACE_DISABLED=1``)."""
    _runtime.set_disabled(True)


def enable() -> None:
    """Record again after :func:`disable`."""
    _runtime.set_disabled(False)


def is_enabled() -> bool:
    """Whether spans are being recorded."""
    return not _runtime.disabled


def get_last_trace_id() -> str | None:
    """The id of the last GenAI trace that completed in this process, or ``None``.

    Example:
        >>> answer("hi")
        >>> trace = genai_trace.get_trace(genai_trace.get_last_trace_id())
    """
    rt = _runtime.current()
    return None if rt is None else rt.assembler.last_trace_id


def get_trace(trace_id: str) -> Trace | None:
    """Return a recent trace by trace id (32 hex) or client request id, else ``None``.

    Looks in the bounded buffer of recent traces (``recent_traces``), flushing first when
    the trace has completed but not yet been built.
    """
    if not isinstance(trace_id, str):
        raise TypeError(f"get_trace() takes a trace id string, got {trace_id!r}")
    rt = _runtime.current()
    if rt is None:
        return None
    found = rt.pipeline.recent.get(trace_id)
    if found is None:
        rt.flush(_LOOKUP_FLUSH_TIMEOUT_S)
        found = rt.pipeline.recent.get(trace_id)
    return found


def stats() -> dict[str, Any]:
    """Counters: traces built, skipped, dropped and incomplete, per destination too."""
    rt = _runtime.current()
    if rt is None:
        return {}
    assembler, pipeline = rt.assembler, rt.pipeline
    return {
        "traces_in_assembly": assembler.open_trace_count(),
        "traces_built": pipeline.built,
        "traces_skipped_without_genai_span": pipeline.skipped_non_genai,
        "traces_dropped_queue_full": pipeline.dropped,
        "traces_timed_out": assembler.timed_out,
        "traces_evicted": assembler.evicted,
        "spans_dropped_over_limit": assembler.dropped_spans,
        "destinations": {
            d.name: {"exported": d.exported, "failed": d.failed, "dropped": d.dropped}
            for d in pipeline.destinations
        },
    }
