"""Configuration: one frozen dataclass and one table of field, environment variable, default.

An explicit argument to :func:`genai_trace.configure` beats the environment variable, which
beats the default. Bad values raise at set-up with a message that says how to fix them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from genai_trace.exporters._base import TraceExporter


@dataclass(frozen=True)
class Config:
    """Everything genai-trace can be told. See the README's configuration table."""

    service_name: str | None = None
    """``service.name`` of a provider genai-trace creates (``OTEL_SERVICE_NAME``)."""
    project_name: str | None = None
    """``openinference.project.name`` on the resource; Phoenix files traces under it."""
    disabled: bool = False
    """Record nothing: decorated functions are called directly."""
    max_payload_chars: int = 100_000
    """Cap on each serialized input, output and attribute, in characters."""
    trace_timeout_s: float = 300.0
    """A trace still open after this long is exported marked incomplete."""
    max_buffered_traces: int = 10_000
    """Traces being assembled at once; past it the oldest is exported marked incomplete."""
    max_spans_per_trace: int = 50_000
    """Finished spans kept per trace; further spans are dropped, counted, trace marked."""
    export_queue_size: int = 20_000
    """Completed traces waiting for the export worker; past it traces are dropped, counted."""
    recent_traces: int = 1_000
    """Completed traces kept in memory for :func:`genai_trace.get_trace`."""
    keep_all_traces: bool = False
    """Also export traces that hold no GenAI span (plain HTTP or database traces)."""
    instrument_threads: bool = True
    """Carry the current span into threads and thread pools (OTel threading instrumentation)."""
    exit_flush_timeout_s: float = 5.0
    """How long process exit waits for pending traces to be exported."""
    tracer_provider: TracerProvider | None = None
    """Use this provider instead of the global one (keeps genai-trace isolated)."""
    exporters: Sequence[TraceExporter] | None = None
    """Where complete traces go; ``None`` means the defaults for this configuration."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Reserved for settings of later modules; not read from the environment."""


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def _parse_positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"expected a positive integer, got {text!r}")
    return value


def _parse_positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(f"expected a positive number, got {text!r}")
    return value


# field name -> (environment variable, parser). Defaults live on the dataclass.
ENV_VARS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "service_name": ("OTEL_SERVICE_NAME", str),
    "project_name": ("GENAI_TRACE_PROJECT", str),
    "disabled": ("GENAI_TRACE_DISABLED", _parse_bool),
    "max_payload_chars": ("GENAI_TRACE_MAX_PAYLOAD_CHARS", _parse_positive_int),
    "trace_timeout_s": ("GENAI_TRACE_TRACE_TIMEOUT_S", _parse_positive_float),
    "max_buffered_traces": ("GENAI_TRACE_MAX_BUFFERED_TRACES", _parse_positive_int),
    "max_spans_per_trace": ("GENAI_TRACE_MAX_SPANS_PER_TRACE", _parse_positive_int),
    "export_queue_size": ("GENAI_TRACE_EXPORT_QUEUE_SIZE", _parse_positive_int),
    "recent_traces": ("GENAI_TRACE_RECENT_TRACES", _parse_positive_int),
    "keep_all_traces": ("GENAI_TRACE_KEEP_ALL_TRACES", _parse_bool),
    "instrument_threads": ("GENAI_TRACE_INSTRUMENT_THREADS", _parse_bool),
    "exit_flush_timeout_s": ("GENAI_TRACE_EXIT_FLUSH_TIMEOUT_S", _parse_positive_float),
}

_CHECKS: dict[str, tuple[type | tuple[type, ...], Callable[[Any], bool], str]] = {
    "max_payload_chars": (int, lambda v: v >= 64, "an int of at least 64"),
    "trace_timeout_s": ((int, float), lambda v: v > 0, "a positive number of seconds"),
    "max_buffered_traces": (int, lambda v: v > 0, "a positive int"),
    "max_spans_per_trace": (int, lambda v: v > 0, "a positive int"),
    "export_queue_size": (int, lambda v: v > 0, "a positive int"),
    "recent_traces": (int, lambda v: v >= 0, "an int of at least 0"),
    "exit_flush_timeout_s": ((int, float), lambda v: v >= 0, "a number of seconds, at least 0"),
    "disabled": (bool, lambda v: True, "True or False"),
    "keep_all_traces": (bool, lambda v: True, "True or False"),
    "instrument_threads": (bool, lambda v: True, "True or False"),
}


def resolve(
    explicit: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    base: Config | None = None,
) -> Config:
    """Build a :class:`Config` from explicit arguments, the environment and the defaults.

    Raises:
        TypeError: an unknown setting, or a value of the wrong type.
        ValueError: a value out of range, in an argument or an environment variable.
    """
    environ = os.environ if environ is None else environ
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(explicit) - known)
    if unknown:
        raise TypeError(
            f"configure() got unknown setting(s) {', '.join(unknown)}; "
            f"known settings are: {', '.join(sorted(known))}"
        )
    values: dict[str, Any] = {}
    for name, (env_var, parse) in ENV_VARS.items():
        raw = environ.get(env_var)
        if raw is None or name in explicit:
            continue
        try:
            values[name] = parse(raw)
        except ValueError as exc:
            raise ValueError(f"environment variable {env_var}={raw!r} is invalid: {exc}") from None
    for name, value in explicit.items():
        check = _CHECKS.get(name)
        if check is not None:
            kinds, ok, expected = check
            if (isinstance(value, bool) and bool not in _as_tuple(kinds)) or not isinstance(
                value, kinds
            ):
                raise TypeError(f"configure({name}=...) must be {expected}, got {value!r}")
            if not ok(value):
                raise ValueError(f"configure({name}=...) must be {expected}, got {value!r}")
        values[name] = value
    if values.get("exporters") is not None:
        values["exporters"] = tuple(values["exporters"])
    if base is not None:
        return dataclasses.replace(base, **values)
    return Config(**values)


def _as_tuple(kinds: type | tuple[type, ...]) -> tuple[type, ...]:
    return kinds if isinstance(kinds, tuple) else (kinds,)
