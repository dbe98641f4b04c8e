"""The live tracing runtime: which TracerProvider, our tracer, the assembler and the pipeline.

Configured lazily at the first span (or by ``configure``), never at import, so an app that
sets up OpenTelemetry after importing genai-trace still owns its provider.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any

from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Tracer, TracerProvider

from genai_trace import _errors
from genai_trace._errors import log_internal_error, logger, warn_once
from genai_trace._runtime import config as _config
from genai_trace._runtime import deferred, ids, metrics, pipeline, worker
from genai_trace._runtime.assembler import TRACER_NAME, TraceAssembler
from genai_trace._runtime.ids import GenAIIdGenerator
from genai_trace._runtime.live import live
from genai_trace._runtime.pipeline import ExportPipeline
from genai_trace._runtime.threads import propagate_into_threads
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.pricing import PriceTable
from genai_trace._semantics.redaction import Redactor
from genai_trace.exporters._base import after_fork_in_child, use_runtime_resource

if TYPE_CHECKING:
    from genai_trace.exporters._base import TraceExporter

PROJECT_NAME_ATTRIBUTE = sc.PROJECT_NAME_ATTRIBUTE


class Runtime:
    """Everything one configuration set up. Replaced whole by ``configure``."""

    def __init__(self, config: _config.Config) -> None:
        self.config = config
        self.id_generator = GenAIIdGenerator()
        self.provider, self.owns_provider = _choose_provider(config, self.id_generator)
        exporters = list(
            _default_exporters(config, self.provider)
            if config.exporters is None
            else config.exporters
        )
        recorder = _metrics_recorder(config, self.provider, _sends_otlp(exporters, config))
        self.pipeline = ExportPipeline(
            exporters,
            # Metrics ride the first destination's thread: one more queue and thread per
            # trace cost a flat-out app 10-20% more CPU (bench/RESULTS.md, issue 19).
            riders=() if recorder is None else (recorder,),
            queue_size=config.export_queue_size,
            recent_traces=config.recent_traces,
            keep_all_traces=config.keep_all_traces,
            on_tick=self._tick,
        )
        for exporter in (destination.exporter for destination in self.pipeline.destinations):
            use_runtime_resource(exporter, self.provider.resource, config.project_name)
        self.assembler = _assembler_for(self.provider)
        self.assembler.configure(
            self.pipeline.submit,
            max_traces=config.max_buffered_traces,
            max_spans=config.max_spans_per_trace,
            timeout_s=config.trace_timeout_s,
        )
        # The assembler outlives configurations (one per provider); stats() counts from here.
        self._assembler_baseline = _assembler_counters(self.assembler)
        self.tracer = self.provider.get_tracer(TRACER_NAME, sc.TRACER_VERSION)
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


# Guards creation and replacement of live.runtime (which the hot path reads without it).
_lock = threading.RLock()
_shut_down = False
_atexit_registered = False
_last_config: _config.Config | None = None
# Set while _at_exit runs; a stop signal arriving then waits for it in the list below.
_exit_flush_running = False
_signals_held_for_exit: list[int] = []


def current() -> Runtime | None:
    """The runtime if one was set up, without setting one up."""
    return live.runtime


def get() -> Runtime | None:
    """The runtime, set up from the environment at first use; ``None`` when shut down."""
    rt = live.runtime
    if rt is not None:
        return rt
    return _configure_lazily()


def _configure_lazily() -> Runtime | None:
    with _lock:
        if live.runtime is not None or _shut_down:
            return live.runtime
        config = _environment_config()
        try:
            _install(config)
        except Exception:
            log_internal_error("configure from the environment")
            return None
        return live.runtime


def _environment_config() -> _config.Config:
    try:
        return _config.resolve({})
    except (TypeError, ValueError) as exc:
        warn_once("bad env config", "genai_trace: %s; using the defaults", exc)
        return _config.Config()


def config_for_reading() -> _config.Config:
    """The configuration a trace look-up goes by, without setting up tracing to read.

    The one in force, else the last one (after ``shutdown``), else the environment's.
    """
    rt = live.runtime
    if rt is not None:
        return rt.config
    return _last_config if _last_config is not None else _environment_config()


def configure(**settings: Any) -> _config.Config:
    """Validate ``settings`` and rebuild the runtime with them (``genai_trace.configure``)."""
    global _shut_down
    config = _config.resolve(settings)
    with _lock:
        old = live.runtime
        if old is not None:
            old.shutdown(config.exit_flush_timeout_s)
        _shut_down = False
        _install(config)
    return config


def _install(config: _config.Config) -> None:
    global _atexit_registered, _last_config
    live.redactor = (
        Redactor(extra_keys=config.redact_keys, user=config.redact) if config.redaction else None
    )
    live.capture_content = config.capture_content
    live.payload_cap = config.max_payload_chars
    live.prices = PriceTable.shipped().with_overrides(_config.price_overrides(config.prices))
    live.disabled = config.disabled
    live.runtime = Runtime(config)
    _last_config = config
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True
    _follow_multiprocessing()
    _hook_multiprocessing_exit()


def shutdown(timeout_s: float | None = None) -> bool:
    """Flush and stop; later spans are not recorded until ``configure`` is called. Idempotent.

    Returns ``False`` when ``timeout_s`` (default ``exit_flush_timeout_s``) ran out first.
    """
    global _shut_down
    with _lock:
        rt, live.runtime = live.runtime, None
        _shut_down = True
    if rt is None:
        return True
    return rt.shutdown(rt.config.exit_flush_timeout_s if timeout_s is None else timeout_s)


def set_disabled(value: bool) -> None:
    """Turn recording off (decorated functions are called directly) or back on."""
    live.disabled = value


def _at_exit() -> None:
    """Export pending traces within ``exit_flush_timeout_s`` in all; never longer.

    A stop signal that arrives meanwhile (a pool terminating a worker that is already on
    its way out) ends the process once this is done, not in the middle of it.
    """
    global _exit_flush_running
    rt = live.runtime
    if rt is None:
        return
    timeout_s = rt.config.exit_flush_timeout_s
    _exit_flush_running = True
    try:
        if not shutdown(timeout_s):
            logger.warning(
                "genai_trace: pending traces were not all exported within %.1fs at exit "
                "(exit_flush_timeout_s); see the counts logged above",
                timeout_s,
            )
    except Exception:
        log_internal_error("flush at exit")
    finally:
        _exit_flush_running = False
    for signum in _signals_held_for_exit:  # held by a handler on this, the main, thread
        _end_by_signal(signum)


def _after_fork_in_child() -> None:
    """The one after-fork hook of the library, in the forked child, in this order.

    1. Locks (logging throttles, this module's, the build lock, the pipelines'): another
       thread may have held any of them at the fork, and every later step takes some.
    2. Ids: new random streams, so parent and child never draw the same ids.
    3. Workers: their threads did not survive the fork; they start over on first use.
    4. The assembler: no inherited traces (the parent exports those).
    5. Exporters: each configured one's ``after_fork_in_child`` (new connections), then
       every local store, including those only opened for reading.

    Each step is guarded on its own: one that fails leaves the others to run.
    """
    global _lock
    _lock = threading.RLock()
    rt = live.runtime
    steps: list[tuple[str, Callable[[], None]]] = [
        ("logging locks", _errors.reset_after_fork),
        ("build lock", deferred.reset_after_fork),
        ("pipeline locks", pipeline.reset_after_fork),
        ("ids", ids.reseed_after_fork),
        ("workers", worker.reset_workers_after_fork),
    ]
    if rt is not None:
        steps.append(("assembler", rt.assembler.reset_after_fork))
        for destination in rt.pipeline.destinations:
            steps.append(("exporter", partial(after_fork_in_child, destination.exporter)))
    for what, step in steps:
        try:
            step()
        except Exception:
            log_internal_error("after fork: " + what)


def _before_fork() -> None:
    if live.runtime is not None:
        _follow_multiprocessing()  # multiprocessing may have been imported after configure


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


# --- processes started by multiprocessing ------------------------------------------------
# multiprocessing ends the processes it forks (the fork and forkserver start methods) with
# os._exit, where atexit never runs; first, in Process._bootstrap, it runs its own exit
# function, which calls every multiprocessing.util.Finalize registered in that process.
# Pools stop idle workers with SIGTERM (Pool.terminate, run by ``with Pool(...)``): nothing
# can flush then (see _hook_multiprocessing_exit); close() and join() the pool first.

_EXIT_PRIORITY = 100
"""Our Finalize runs before the finalizers of lower priority (the app's, by default 0)."""
# Set once per process; inherited by a forked child, where they still hold.
_following_multiprocessing = False
_exit_hooked_pid = 0


def _follow_multiprocessing() -> None:
    """Have multiprocessing call us in each process it starts from here (once it is in use).

    Nothing is imported: a process that starts no multiprocessing child pays nothing.
    """
    global _following_multiprocessing
    util = sys.modules.get("multiprocessing.util")
    if util is None or _following_multiprocessing:
        return
    _following_multiprocessing = True
    # Called in the child after multiprocessing cleared the Finalize list it inherited
    # (an os.register_at_fork hook runs before that, so it cannot register a Finalize).
    util.register_after_fork(_MULTIPROCESSING_CHILD, _MultiprocessingChild.started)


class _MultiprocessingChild:
    """The object multiprocessing's after-fork registry holds (it keeps weak references)."""

    @staticmethod
    def started(_: object) -> None:
        try:
            _hook_multiprocessing_exit()
        except Exception:
            log_internal_error("multiprocessing child set-up")


_MULTIPROCESSING_CHILD = _MultiprocessingChild()


def _hook_multiprocessing_exit() -> None:
    """In a multiprocessing child with a runtime: flush when it ends on its own.

    Its target returned, or its pool was closed. No SIGTERM handler is installed for a pool
    that terminates its workers: Python may run such a handler only once the worker's
    blocking wait returns, which it never does there, so the pool's exit would hang.
    """
    global _exit_hooked_pid
    process = sys.modules.get("multiprocessing.process")
    util = sys.modules.get("multiprocessing.util")
    if (
        live.runtime is None
        or process is None
        or util is None
        or process.parent_process() is None
        or _exit_hooked_pid == os.getpid()
    ):
        return
    _exit_hooked_pid = os.getpid()
    util.Finalize(None, _at_exit, exitpriority=_EXIT_PRIORITY)


SignalHandler = Callable[[int, FrameType | None], Any] | int | None


def flushing_signal_handler(previous: SignalHandler, timeout_s: float | None) -> SignalHandler:
    """A handler that flushes completed traces, then hands the signal to ``previous``.

    Where ``previous`` is the default action, the signal is raised again with it, so the
    process ends as it would have, with the same status.
    """

    def handle(signum: int, frame: FrameType | None) -> None:
        # Only a flush: the signal may have interrupted this thread inside one of our locks,
        # and a flush takes none of them on this thread (it waits, bounded, for the workers).
        ends_here = not callable(previous) and previous in (signal.SIG_DFL, None)
        if ends_here and _exit_flush_running:
            _signals_held_for_exit.append(signum)  # the exit flush it interrupted goes on
            return
        try:
            rt = live.runtime
            if rt is not None:
                limit = rt.config.exit_flush_timeout_s if timeout_s is None else timeout_s
                _flush_before_signal(rt, limit, ends_here)
        except Exception:
            log_internal_error("flush on signal")
        if callable(previous):
            previous(signum, frame)
        elif ends_here:
            _end_by_signal(signum)
        # SIG_IGN: the app ignores this signal; having flushed, carry on.

    handle._genai_trace_flush = True  # type: ignore[attr-defined]  # marks ours: no double install
    return handle


def _end_by_signal(signum: int) -> None:
    """End the process as ``signum``'s default action does, with the same exit status."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _flush_before_signal(rt: Runtime, timeout_s: float, ends_here: bool) -> None:
    """Flush; where the signal then ends the process, say what could not be exported."""
    flushed = rt.flush(timeout_s)
    if not ends_here:
        return  # the app's handler (or SIG_IGN) goes on; atexit exports the rest
    if not flushed:
        logger.warning(
            "genai_trace: completed traces were not all exported within %.1fs of a signal "
            "that ends the process (exit_flush_timeout_s); see genai_trace.stats()",
            timeout_s,
        )
    # Read without the assembler's lock: the signal may have interrupted its holder.
    still_open = rt.assembler.open_trace_count_unlocked()
    if still_open:
        logger.warning(
            "genai_trace: %d traces still open when a signal stopped the process are not exported",
            still_open,
        )


def _choose_provider(
    config: _config.Config, id_generator: GenAIIdGenerator
) -> tuple[TracerProvider, bool]:
    """Join the app's SDK provider (so spans nest with its other libraries'), or make one."""
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


def _metrics_recorder(
    config: _config.Config, provider: TracerProvider, sends_otlp: bool
) -> metrics.MetricsRecorder | None:
    """The GenAI metrics destination, when metrics are on and have somewhere to go.

    A meter provider of genai-trace's own only next to an OTLP destination genai-trace
    added itself: an app that exports its spans on its own chose its signals.
    """
    if not config.metrics:
        return None
    endpoint = (
        metrics.metrics_endpoint(config.otlp_endpoint, config.otlp_protocol) if sends_otlp else None
    )
    try:
        return metrics.metrics_recorder(
            config.meter_provider,
            config.metrics_legacy_names,
            endpoint,
            config.otlp_headers,
            provider.resource,
        )
    except Exception:
        log_internal_error("setting up GenAI metrics")
        return None


def _sends_otlp(exporters: list[TraceExporter], config: _config.Config) -> bool:
    """Whether genai-trace's default destinations include an OTLP backend."""
    if config.exporters is not None:
        return False
    from genai_trace.exporters.otlp import OTLPTraceExporter

    return any(isinstance(getattr(e, "exporter", e), OTLPTraceExporter) for e in exporters)


def _default_exporters(config: _config.Config, provider: TracerProvider) -> list[TraceExporter]:
    """Where traces go when ``exporters`` is not given.

    The local store, plus the console and an OTLP backend when asked for (and not already
    served by the app's own exporter, see :func:`_otlp_destination_wanted`).
    """
    exporters: list[TraceExporter] = []
    if config.local_store:
        from genai_trace.store.retention import Retention
        from genai_trace.store.writer import SQLiteTraceStore

        retention = Retention(
            config.store_max_bytes, config.store_max_age_s, config.store_max_traces
        )
        exporters.append(SQLiteTraceStore(config.db_path, retention=retention))
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
    would deliver every span twice, and a backend would show each step two times.
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
