"""The live tracing runtime: which TracerProvider, our tracer, the assembler and the pipeline.

Configured lazily at the first span (or by ``configure``), never at import, so an app that
sets up OpenTelemetry after importing genai-trace still owns its provider.
"""

from __future__ import annotations

import atexit
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider

from genai_trace import _config, _redact, _switch
from genai_trace._assembler import TRACER_NAME, TraceAssembler
from genai_trace._errors import log_internal_error, logger, warn_once
from genai_trace._ids import GenAIIdGenerator
from genai_trace._pipeline import ExportPipeline
from genai_trace._threads import propagate_into_threads

if TYPE_CHECKING:
    from genai_trace.exporters._base import TraceExporter

__version__ = "0.1.0"
PROJECT_NAME_ATTRIBUTE = "openinference.project.name"


class Runtime:
    """Everything one configuration set up. Replaced whole by ``configure``."""

    def __init__(self, config: _config.Config) -> None:
        self.config = config
        self.id_generator = GenAIIdGenerator()
        self.provider, self.owns_provider = _choose_provider(config, self.id_generator)
        self.pipeline = ExportPipeline(
            _default_exporters(config, self.provider)
            if config.exporters is None
            else config.exporters,
            queue_size=config.export_queue_size,
            recent_traces=config.recent_traces,
            keep_all_traces=config.keep_all_traces,
            on_tick=self._tick,
        )
        self.assembler = _assembler_for(self.provider)
        self.assembler.configure(
            self.pipeline.submit,
            max_traces=config.max_buffered_traces,
            max_spans=config.max_spans_per_trace,
            timeout_s=config.trace_timeout_s,
        )
        # The assembler outlives configurations (one per provider); stats() counts from here.
        self._assembler_baseline = _assembler_counters(self.assembler)
        self.tracer = self.provider.get_tracer(TRACER_NAME, __version__)
        if isinstance(self.tracer, Tracer):
            # Our spans draw ids from our generator (immune to the app's random.seed, able to
            # take a caller's trace id) even on a provider the app configured.
            self.tracer.id_generator = self.id_generator
        propagate_into_threads(config.instrument_threads)

    def assembler_counts(self) -> dict[str, int]:
        """The assembler's drop counters since this configuration was installed."""
        now = _assembler_counters(self.assembler)
        return {key: now[key] - self._assembler_baseline.get(key, 0) for key in now}

    def _tick(self) -> None:
        self.assembler.sweep()

    def flush(self, timeout_s: float | None) -> bool:
        return self.pipeline.flush(timeout_s)

    def shutdown(self, timeout_s: float | None) -> bool:
        """Export open traces marked incomplete, flush, stop threads. The provider stays.

        Returns ``False`` when ``timeout_s`` ran out first (what was left is counted).
        """
        self.assembler.flush_open("shutdown")
        self.assembler.enabled = False
        return self.pipeline.shutdown(timeout_s)


# One assembler per provider, kept across configurations: a provider's processors can be
# added but never removed, so reconfiguring re-points the existing one.
_assemblers: weakref.WeakKeyDictionary[TracerProvider, TraceAssembler] = weakref.WeakKeyDictionary()


def _assembler_counters(assembler: TraceAssembler) -> dict[str, int]:
    return {
        "traces_timed_out": assembler.timed_out,
        "traces_evicted": assembler.evicted,
        "spans_dropped_over_limit": assembler.dropped_spans,
    }


def _assembler_for(provider: TracerProvider) -> TraceAssembler:
    assembler = _assemblers.get(provider)
    if assembler is None:
        assembler = _assemblers[provider] = TraceAssembler()
        provider.add_span_processor(assembler)
        assembler.watch(provider)
    return assembler


# The hot path reads this module global without a lock (and _switch.disabled).
_runtime: Runtime | None = None
# Guards creation and replacement of _runtime.
_lock = threading.RLock()
_shut_down = False
_atexit_registered = False


def current() -> Runtime | None:
    """The runtime if one was set up, without setting one up."""
    return _runtime


def get() -> Runtime | None:
    """The runtime, set up from the environment at first use; ``None`` when shut down."""
    rt = _runtime
    if rt is not None:
        return rt
    return _configure_lazily()


def _configure_lazily() -> Runtime | None:
    with _lock:
        if _runtime is not None or _shut_down:
            return _runtime
        try:
            config = _config.resolve({})
        except (TypeError, ValueError) as exc:
            warn_once("bad env config", "genai_trace: %s; using the defaults", exc)
            config = _config.Config()
        try:
            _install(config)
        except Exception:
            log_internal_error("configure from the environment")
            return None
        return _runtime


def configure(**settings: Any) -> _config.Config:
    """Validate ``settings`` and rebuild the runtime with them (``genai_trace.configure``)."""
    global _shut_down
    config = _config.resolve(settings)
    with _lock:
        old = _runtime
        if old is not None:
            old.shutdown(config.exit_flush_timeout_s)
        _shut_down = False
        _install(config)
    return config


def _install(config: _config.Config) -> None:
    global _runtime, _atexit_registered
    _redact.active = (
        _redact.Redactor(extra_keys=config.redact_keys, user=config.redact)
        if config.redaction
        else None
    )
    _redact.capture_content = config.capture_content
    _redact.payload_limit = config.max_payload_chars
    _switch.disabled = config.disabled
    _runtime = Runtime(config)
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True


def shutdown(timeout_s: float | None = None) -> bool:
    """Flush and stop; later spans are not recorded until ``configure`` is called. Idempotent.

    Returns ``False`` when ``timeout_s`` (default ``exit_flush_timeout_s``) ran out first.
    """
    global _runtime, _shut_down
    with _lock:
        rt, _runtime = _runtime, None
        _shut_down = True
    if rt is None:
        return True
    return rt.shutdown(rt.config.exit_flush_timeout_s if timeout_s is None else timeout_s)


def set_disabled(value: bool) -> None:
    """Turn recording off (decorated functions are called directly) or back on."""
    _switch.disabled = value


def max_payload_chars() -> int:
    """The payload cap of the current configuration (the default before any)."""
    rt = _runtime
    return rt.config.max_payload_chars if rt is not None else _config.Config.max_payload_chars


def _at_exit() -> None:
    """Export pending traces within ``exit_flush_timeout_s`` in all; never longer."""
    rt = _runtime
    if rt is None:
        return
    timeout_s = rt.config.exit_flush_timeout_s
    try:
        if not shutdown(timeout_s):
            logger.warning(
                "genai_trace: pending traces were not all exported within %.1fs at exit "
                "(exit_flush_timeout_s); see the counts logged above",
                timeout_s,
            )
    except Exception:
        log_internal_error("flush at exit")


def _after_fork_in_child() -> None:
    """In a forked child: fresh locks, no inherited traces (the parent exports those)."""
    global _lock
    _lock = threading.RLock()  # another thread may have held it at the fork
    rt = _runtime
    if rt is not None:
        rt.assembler.reset_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _choose_provider(
    config: _config.Config, id_generator: GenAIIdGenerator
) -> tuple[TracerProvider, bool]:
    """DESIGN decision 1: join the app's SDK provider, or create and register one."""
    if config.tracer_provider is not None:
        return config.tracer_provider, False
    current_provider = trace_api.get_tracer_provider()
    if isinstance(current_provider, TracerProvider):
        return current_provider, False
    provider = TracerProvider(resource=_resource(config), id_generator=id_generator)
    if isinstance(current_provider, trace_api.ProxyTracerProvider):
        trace_api.set_tracer_provider(provider)
        if trace_api.get_tracer_provider() is provider:
            return provider, True
    # The global provider is not an SDK one (a vendor's, or already replaced): stay isolated.
    warn_once(
        "foreign provider",
        "genai_trace: the global TracerProvider (%s) is not an OpenTelemetry SDK provider; "
        "genai-trace uses a provider of its own, so other instrumentations will not nest "
        "with its spans. Pass configure(tracer_provider=...) to choose one.",
        type(trace_api.get_tracer_provider()).__name__,
    )
    return provider, True


def _resource(config: _config.Config) -> Resource:
    attributes: dict[str, str] = {}
    if config.service_name:
        attributes["service.name"] = config.service_name
    if config.project_name:
        attributes[PROJECT_NAME_ATTRIBUTE] = config.project_name
    # Resource.create also reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME.
    return Resource.create(attributes)


def _default_exporters(config: _config.Config, provider: TracerProvider) -> list[TraceExporter]:
    """Where traces go when ``exporters`` is not given.

    The local store, plus the console and an OTLP backend when asked for (and not already
    served by the app's own exporter, see :func:`_otlp_destination_wanted`).
    """
    exporters: list[TraceExporter] = []
    if config.local_store:
        from genai_trace.exporters.sqlite import SQLiteTraceStore

        exporters.append(SQLiteTraceStore(config.db_path))
    if config.console:
        from genai_trace.exporters.console import ConsoleTraceExporter

        exporters.append(ConsoleTraceExporter())
    if _otlp_destination_wanted(config, provider):
        from genai_trace.exporters.otlp import OTLPTraceExporter

        otlp: TraceExporter = OTLPTraceExporter(
            config.otlp_endpoint,
            protocol=config.otlp_protocol,
            headers=config.otlp_headers,
            dialect=config.otlp_dialect,
            service_name=config.service_name,
            project_name=config.project_name,
        )
        if config.otlp_sample_rate < 1.0:
            from genai_trace.sampling import SampledExporter, TailSampler

            otlp = SampledExporter(otlp, TailSampler(rate=config.otlp_sample_rate))
        exporters.append(otlp)
    return exporters


def _otlp_destination_wanted(config: _config.Config, provider: TracerProvider) -> bool:
    """Whether genai-trace adds an OTLP destination of its own.

    An endpoint given to genai-trace (``otlp_endpoint``, ``GENAI_TRACE_OTLP_ENDPOINT``)
    always gets one. One that comes only from the standard ``OTEL_EXPORTER_OTLP_*``
    variables does not when the app's provider already exports over OTLP: that exporter
    reads the same variables and already carries genai-trace's spans, so a second path
    would deliver every span twice (DESIGN: a span reaches a given backend once).
    """
    if config.otlp_endpoint:
        return True
    if not otlp_configured(config):
        return False
    app_exporter = app_otlp_exporter(provider)
    if app_exporter is None:
        return True
    logger.info(
        "genai_trace: the app's TracerProvider already exports over OTLP (%s), and genai-trace's "
        "spans go through it; genai-trace adds no OTLP destination of its own for "
        "OTEL_EXPORTER_OTLP_ENDPOINT, so each span reaches the backend once. To send "
        "genai-trace's whole traces to an OTLP backend as well, set "
        "configure(otlp_endpoint=...) or GENAI_TRACE_OTLP_ENDPOINT.",
        type(app_exporter).__name__,
    )
    return False


# Where the SDK's processors keep what they wrap: the multi-processors their processors,
# SimpleSpanProcessor (and BatchSpanProcessor before 1.28) the exporter, BatchSpanProcessor
# its shared BatchProcessor, which keeps the exporter.
_WRAPPED = ("_span_processors", "span_exporter", "_batch_processor", "_exporter")


def app_otlp_exporter(provider: TracerProvider) -> object | None:
    """An OTLP span exporter (HTTP or gRPC) among ``provider``'s processors, if any.

    Looks through the SDK's multi-processors and its simple and batch processors, a
    bounded walk; anything it cannot read counts as no exporter.
    """
    pending: list[object] = [getattr(provider, "_active_span_processor", None)]
    for _ in range(256):
        if not pending:
            return None
        item = pending.pop()
        if _is_otlp_span_exporter(item):
            return item
        for name in _WRAPPED:
            inner = getattr(item, name, None)
            if isinstance(inner, (tuple, list)):
                pending.extend(inner)
            elif inner is not None:
                pending.append(inner)
    return None


def _is_otlp_span_exporter(item: object) -> bool:
    return any(
        cls.__name__ == "OTLPSpanExporter"
        and cls.__module__.startswith("opentelemetry.exporter.otlp.")
        for cls in type(item).__mro__
    )


def otlp_configured(config: _config.Config) -> bool:
    """Whether an OTLP endpoint is set, by argument or by the standard variables."""
    return bool(
        config.otlp_endpoint
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
