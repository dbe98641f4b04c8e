"""Configuration: one frozen dataclass and one table of field, environment variable, default.

An explicit argument to :func:`genai_trace.configure` beats the environment variable, which
beats the default. Bad values raise at set-up with a message that says how to fix them.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from genai_trace._semantics import semconv as sc
from genai_trace._semantics.pricing import load_prices, parse_prices
from genai_trace.store.retention import DEFAULT_MAX_AGE_S, DEFAULT_MAX_BYTES, parse_size
from genai_trace.store.schema import DEFAULT_DB_PATH

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.sdk.trace import TracerProvider

    from genai_trace.exporters._base import TraceExporter


@dataclass(frozen=True)
class Config:
    """Everything genai-trace can be told. docs/configuration.md shows them as a table."""

    service_name: str | None = None
    """``service.name`` of a provider genai-trace creates (``OTEL_SERVICE_NAME``)."""
    project_name: str | None = None
    """``openinference.project.name`` on the resource; Phoenix files traces under it."""
    disabled: bool = False
    """Record nothing, not even the spans of other instrumentations (``autolog``): decorated
    functions are called directly. :func:`genai_trace.disable` and ``enable()`` turn the same
    switch."""
    max_payload_chars: int = 100_000
    """Cap on each serialized input, output and attribute, in characters."""
    trace_timeout_s: float = 300.0
    """A trace still open after this long is exported marked incomplete."""
    max_buffered_traces: int = 10_000
    """Traces being assembled at once; past it the oldest is exported marked incomplete."""
    max_spans_per_trace: int = 50_000
    """Finished spans kept per trace; further spans are dropped, counted, trace marked."""
    export_queue_size: int = 20_000
    """Completed traces waiting per exporter; past it that exporter drops them, counted."""
    recent_traces: int = 100
    """Completed traces kept in memory for :func:`genai_trace.get_trace`."""
    keep_all_traces: bool = False
    """Also export traces that hold no GenAI span (plain HTTP or database traces)."""
    instrument_threads: bool = True
    """Carry the current span into `threading.Thread`s and `ThreadPoolExecutor` tasks."""
    exit_flush_timeout_s: float = 5.0
    """How long process exit waits for pending traces to be exported."""
    tracer_provider: TracerProvider | None = None
    """Use this provider instead of the global one (keeps genai-trace isolated)."""
    exporters: Sequence[TraceExporter] | None = None
    """Where complete traces go, replacing every default destination below."""
    local_store: bool = True
    """Default destination: the local SQLite store at ``db_path``."""
    db_path: str = DEFAULT_DB_PATH
    """The local store's file, relative to the working directory unless absolute."""
    store_max_bytes: int = DEFAULT_MAX_BYTES
    """Retention of the local store by size: past it, the oldest traces are deleted
    (``GENAI_TRACE_STORE_MAX_BYTES`` takes ``500MB``, ``2GB``...); 0 turns it off."""
    store_max_age_s: float = DEFAULT_MAX_AGE_S
    """Retention by age: traces that started longer ago (30 days) are deleted; 0: off."""
    store_max_traces: int = 0
    """Retention by count: past it, the oldest traces are deleted; 0 (the default): off."""
    console: bool = False
    """Default destination: a readable tree of each trace on stderr."""
    otlp_endpoint: str | None = None
    """Default destination: an OTLP backend (``GENAI_TRACE_OTLP_ENDPOINT``). Without it,
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is used, unless the app's
    provider already exports over OTLP (its exporter then carries genai-trace's spans)."""
    otlp_protocol: str | None = None
    """``http/protobuf`` or ``grpc``; ``None`` reads ``OTEL_EXPORTER_OTLP_PROTOCOL``."""
    otlp_headers: Mapping[str, str] | None = None
    """Request headers; ``None`` reads ``OTEL_EXPORTER_OTLP_HEADERS``."""
    otlp_dialect: str = "default"
    """Attribute dialect sent to the OTLP backend: ``default``, ``mlflow`` or ``genai``."""
    redaction: bool = True
    """Replace secrets (by key and by value pattern) before any exporter sees them."""
    redact_keys: Sequence[str] = ()
    """More keys whose values are always secret, besides the built-in ones."""
    redact: Callable[[str | None, str], str] | None = None
    """Your own redactor, ``redact(key, text) -> text``, run on every string after the
    built-in rules; if it raises, the value is replaced (fail closed)."""
    capture_content: bool = True
    """Record inputs, outputs, previews and LLM messages at all (``False``: timing, types,
    status and token counts only)."""
    otlp_sample_rate: float = 1.0
    """Tail sampling of the OTLP destination: errors, slow and incomplete traces are always
    kept, and this fraction of the rest (the local store keeps everything)."""
    metrics: bool = True
    """Record GenAI metrics (tokens by kind, durations, cost) on the app's MeterProvider, or,
    when it has none, on one of genai-trace's own sending to the OTLP endpoint (over HTTP);
    with neither, none are recorded."""
    metrics_legacy_names: bool = False
    """Also record the older ``gen_ai.client.token.usage`` and
    ``gen_ai.client.operation.duration``, for backends that read only those."""
    meter_provider: MeterProvider | None = None
    """Record metrics on this provider instead of the global one."""
    prices: Mapping[str, Any] | str | None = None
    """Model prices replacing or adding to the shipped table, in US dollars per million
    tokens (``{"my-model": {"input": 1.0, "output": 2.0, "cache_read": 0.1}}``), or the
    path of a JSON file of that shape (``GENAI_TRACE_PRICES``): docs/usage-and-cost.md."""


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def _parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def _parse_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def _parse_str(text: str) -> str:
    return text.strip()


# field name -> (environment variable, parser). Defaults live on the dataclass; the
# parsed value is then checked exactly like an explicit argument.
ENV_VARS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "service_name": ("OTEL_SERVICE_NAME", _parse_str),
    "project_name": ("GENAI_TRACE_PROJECT", _parse_str),
    "disabled": ("GENAI_TRACE_DISABLED", _parse_bool),
    "max_payload_chars": ("GENAI_TRACE_MAX_PAYLOAD_CHARS", _parse_int),
    "trace_timeout_s": ("GENAI_TRACE_TRACE_TIMEOUT_S", _parse_float),
    "max_buffered_traces": ("GENAI_TRACE_MAX_BUFFERED_TRACES", _parse_int),
    "max_spans_per_trace": ("GENAI_TRACE_MAX_SPANS_PER_TRACE", _parse_int),
    "export_queue_size": ("GENAI_TRACE_EXPORT_QUEUE_SIZE", _parse_int),
    "recent_traces": ("GENAI_TRACE_RECENT_TRACES", _parse_int),
    "keep_all_traces": ("GENAI_TRACE_KEEP_ALL_TRACES", _parse_bool),
    "instrument_threads": ("GENAI_TRACE_INSTRUMENT_THREADS", _parse_bool),
    "exit_flush_timeout_s": ("GENAI_TRACE_EXIT_FLUSH_TIMEOUT_S", _parse_float),
    "local_store": ("GENAI_TRACE_LOCAL_STORE", _parse_bool),
    "db_path": ("GENAI_TRACE_DB", _parse_str),
    "store_max_bytes": ("GENAI_TRACE_STORE_MAX_BYTES", parse_size),
    "store_max_age_s": ("GENAI_TRACE_STORE_MAX_AGE_S", _parse_float),
    "store_max_traces": ("GENAI_TRACE_STORE_MAX_TRACES", _parse_int),
    "console": ("GENAI_TRACE_CONSOLE", _parse_bool),
    "otlp_endpoint": ("GENAI_TRACE_OTLP_ENDPOINT", _parse_str),
    "otlp_dialect": ("GENAI_TRACE_OTLP_DIALECT", _parse_str),
    "otlp_sample_rate": ("GENAI_TRACE_OTLP_SAMPLE_RATE", _parse_float),
    "redaction": ("GENAI_TRACE_REDACTION", _parse_bool),
    "capture_content": ("GENAI_TRACE_CAPTURE_CONTENT", _parse_bool),
    "metrics": ("GENAI_TRACE_METRICS", _parse_bool),
    "metrics_legacy_names": ("GENAI_TRACE_METRICS_LEGACY_NAMES", _parse_bool),
    "prices": ("GENAI_TRACE_PRICES", _parse_str),
}


def _finite(value: float) -> bool:
    return math.isfinite(value)


# field name -> (accepted types, range check, what is expected). ``bool`` is never taken
# for a number, and ``None`` only where the field's default is ``None``.
_CHECKS: dict[str, tuple[tuple[type, ...], Callable[[Any], bool], str]] = {
    "service_name": ((str, type(None)), lambda v: v is None or v != "", "a non-empty str"),
    "project_name": ((str, type(None)), lambda v: v is None or v != "", "a non-empty str"),
    "disabled": ((bool,), lambda v: True, "True or False"),
    "max_payload_chars": ((int,), lambda v: v >= 64, "an int of at least 64"),
    "trace_timeout_s": (
        (int, float),
        lambda v: _finite(v) and v > 0,
        "a positive, finite number of seconds",
    ),
    "max_buffered_traces": ((int,), lambda v: v > 0, "a positive int"),
    "max_spans_per_trace": ((int,), lambda v: v > 0, "a positive int"),
    "export_queue_size": ((int,), lambda v: v > 0, "a positive int"),
    "recent_traces": ((int,), lambda v: v >= 0, "an int of at least 0"),
    "keep_all_traces": ((bool,), lambda v: True, "True or False"),
    "instrument_threads": ((bool,), lambda v: True, "True or False"),
    "exit_flush_timeout_s": (
        (int, float),
        lambda v: _finite(v) and v >= 0,
        "a finite number of seconds, at least 0",
    ),
    "redaction": ((bool,), lambda v: True, "True or False"),
    "capture_content": ((bool,), lambda v: True, "True or False"),
    "redact_keys": (
        (list, tuple),
        lambda v: all(isinstance(k, str) and k for k in v),
        "a list of key names",
    ),
    "redact": ((object,), lambda v: v is None or callable(v), "a callable (key, text) -> text"),
    "local_store": ((bool,), lambda v: True, "True or False"),
    "db_path": ((str, os.PathLike), lambda v: str(v) != "", "a file path"),
    "store_max_bytes": ((int,), lambda v: v >= 0, "a number of bytes, at least 0 (0: no limit)"),
    "store_max_age_s": (
        (int, float),
        lambda v: _finite(v) and v >= 0,
        "a finite number of seconds, at least 0 (0: no limit)",
    ),
    "store_max_traces": ((int,), lambda v: v >= 0, "an int of at least 0 (0: no limit)"),
    "console": ((bool,), lambda v: True, "True or False"),
    "otlp_endpoint": ((str, type(None)), lambda v: v is None or v != "", "a URL"),
    "otlp_protocol": (
        (str, type(None)),
        lambda v: v is None or v in sc.OTLP_PROTOCOLS,
        " or ".join(map(repr, sc.OTLP_PROTOCOLS)),
    ),
    "otlp_headers": ((Mapping, type(None)), lambda v: True, "a mapping of header to value"),
    "otlp_dialect": (
        (str,),
        lambda v: v in sc.DIALECT_NAMES,
        ", ".join(map(repr, sc.DIALECT_NAMES)),
    ),
    "otlp_sample_rate": (
        (int, float),
        lambda v: _finite(v) and 0 <= v <= 1,
        "a number from 0 to 1",
    ),
    "metrics": ((bool,), lambda v: True, "True or False"),
    "metrics_legacy_names": ((bool,), lambda v: True, "True or False"),
    "meter_provider": (
        (object,),
        lambda v: v is None or callable(getattr(v, "get_meter", None)),
        "an opentelemetry.metrics.MeterProvider",
    ),
    "prices": (
        (Mapping, str, os.PathLike, type(None)),
        lambda v: _valid_prices(v),
        "a mapping of model name to prices, or the path of a JSON price file",
    ),
}


def _valid_prices(value: Any) -> bool:
    price_overrides(value)  # raises ValueError saying what is wrong
    return True


def price_overrides(prices: Mapping[str, Any] | str | os.PathLike[str] | None) -> dict[str, Any]:
    """The model prices the ``prices`` setting names (a mapping, or a JSON file's path).

    Raises:
        ValueError: a price is malformed or the file cannot be read (the message says which).
    """
    if prices is None:
        return {}
    if isinstance(prices, Mapping):
        return parse_prices(prices, "configure(prices=...)")
    return load_prices(prices)


def _checked_exporters(exporters: object) -> tuple[Any, ...]:
    if not isinstance(exporters, (list, tuple)):
        raise TypeError(
            f"configure(exporters=...) must be a list of exporters, got {type(exporters).__name__}"
        )
    for exporter in exporters:
        if not (
            callable(getattr(exporter, "export", None))
            and callable(getattr(exporter, "shutdown", None))
        ):
            raise TypeError(
                "configure(exporters=...) takes objects with export(traces) and shutdown() "
                f"methods, got {type(exporter).__name__}"
            )
    return tuple(exporters)


def resolve(
    explicit: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    base: Config | None = None,
) -> Config:
    """Build a :class:`Config` from explicit arguments, the environment and the defaults.

    An explicit argument beats its environment variable, which beats ``base`` (when given)
    and then the dataclass default. An environment variable that is set but empty counts
    as unset.

    Raises:
        TypeError: an unknown setting, or a value of the wrong type.
        ValueError: a value out of range, in an argument or an environment variable.
    """
    environ = os.environ if environ is None else environ
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(str(name) for name in set(explicit) - known)
    if unknown:
        raise TypeError(
            f"configure() got unknown setting(s) {', '.join(unknown)}; "
            f"known settings are: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for name, (env_var, parse) in ENV_VARS.items():
        raw = environ.get(env_var)
        if raw is None or not raw.strip() or name in explicit:
            continue
        try:
            value = parse(raw)
            _check(name, value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"environment variable {env_var}={raw!r} is invalid: {exc}") from None
        values[name] = value
    for name, value in explicit.items():
        try:
            _check(name, value)
        except TypeError as exc:
            raise TypeError(f"configure({name}=...) {exc}") from None
        except ValueError as exc:
            raise ValueError(f"configure({name}=...) {exc}") from None
        values[name] = value
    if values.get("exporters") is not None:
        values["exporters"] = _checked_exporters(values["exporters"])
    if "tracer_provider" in values:
        _check_tracer_provider(values["tracer_provider"])
    if base is not None:
        return dataclasses.replace(base, **values)
    return Config(**values)


def _check(name: str, value: object) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``value`` suits the setting ``name``."""
    check = _CHECKS.get(name)
    if check is None:
        return
    kinds, ok, expected = check
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        raise TypeError(f"must be {expected}, got {type(value).__name__} {value!r}")
    if not ok(value):
        raise ValueError(f"must be {expected}, got {value!r}")


def _check_tracer_provider(provider: object) -> None:
    if provider is None:
        return
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider

    if not isinstance(provider, SdkTracerProvider):
        raise TypeError(
            "configure(tracer_provider=...) must be an opentelemetry.sdk.trace.TracerProvider, "
            f"got {type(provider).__name__}"
        )
