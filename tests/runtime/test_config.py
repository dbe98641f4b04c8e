"""Configuration: explicit argument > environment variable > default (``_runtime.config``)."""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider

from genai_trace._runtime.config import ENV_VARS, Config, resolve
from genai_trace.exporters import InMemoryTraceExporter

DEFAULTS = Config()


def changed(config: Config) -> dict[str, Any]:
    """The fields of ``config`` that differ from the defaults."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(Config)
        if getattr(config, f.name) != getattr(DEFAULTS, f.name)
    }


def test_nothing_set_gives_the_defaults() -> None:
    assert resolve({}, environ={}) == Config()
    assert dataclasses.asdict(DEFAULTS) == {
        "service_name": None,
        "project_name": None,
        "disabled": False,
        "max_payload_chars": 100_000,
        "trace_timeout_s": 300.0,
        "max_buffered_traces": 10_000,
        "max_spans_per_trace": 50_000,
        "export_queue_size": 20_000,
        "recent_traces": 100,
        "keep_all_traces": False,
        "instrument_threads": True,
        "exit_flush_timeout_s": 5.0,
        "tracer_provider": None,
        "exporters": None,
        "local_store": True,
        "db_path": os.path.join(".genai_trace", "traces.db"),
        "store_max_bytes": 1_000_000_000,
        "store_max_age_s": 30 * 86400.0,
        "store_max_traces": 0,
        "console": False,
        "otlp_endpoint": None,
        "otlp_protocol": None,
        "otlp_headers": None,
        "otlp_dialect": "default",
        "redaction": True,
        "redact_keys": (),
        "redact": None,
        "capture_content": True,
        "otlp_sample_rate": 1.0,
        "metrics": True,
        "metrics_legacy_names": False,
        "meter_provider": None,
        "prices": None,
    }


def test_every_environment_variable_is_read(tmp_path: Path) -> None:
    prices = tmp_path / "prices.json"
    prices.write_text('{"my-model": {"input": 1, "output": 2}}')
    environ = {
        "OTEL_SERVICE_NAME": "svc",
        "GENAI_TRACE_PROJECT": "proj",
        "GENAI_TRACE_DISABLED": "true",
        "GENAI_TRACE_MAX_PAYLOAD_CHARS": "2048",
        "GENAI_TRACE_TRACE_TIMEOUT_S": "1.5",
        "GENAI_TRACE_MAX_BUFFERED_TRACES": "7",
        "GENAI_TRACE_MAX_SPANS_PER_TRACE": "8",
        "GENAI_TRACE_EXPORT_QUEUE_SIZE": "9",
        "GENAI_TRACE_RECENT_TRACES": "0",
        "GENAI_TRACE_KEEP_ALL_TRACES": "yes",
        "GENAI_TRACE_INSTRUMENT_THREADS": "off",
        "GENAI_TRACE_EXIT_FLUSH_TIMEOUT_S": "0",
        "GENAI_TRACE_LOCAL_STORE": "false",
        "GENAI_TRACE_DB": "/var/traces.db",
        "GENAI_TRACE_STORE_MAX_BYTES": "500MB",
        "GENAI_TRACE_STORE_MAX_AGE_S": "0",
        "GENAI_TRACE_STORE_MAX_TRACES": "5000",
        "GENAI_TRACE_CONSOLE": "1",
        "GENAI_TRACE_OTLP_ENDPOINT": "http://collector:4318",
        "GENAI_TRACE_OTLP_DIALECT": "mlflow",
        "GENAI_TRACE_OTLP_SAMPLE_RATE": "0.25",
        "GENAI_TRACE_REDACTION": "off",
        "GENAI_TRACE_CAPTURE_CONTENT": "false",
        "GENAI_TRACE_PRICES": str(prices),
        "GENAI_TRACE_METRICS": "false",
        "GENAI_TRACE_METRICS_LEGACY_NAMES": "true",
    }
    assert sorted(environ) == sorted(env_var for env_var, _ in ENV_VARS.values())
    assert changed(resolve({}, environ=environ)) == {
        "service_name": "svc",
        "project_name": "proj",
        "disabled": True,
        "max_payload_chars": 2048,
        "trace_timeout_s": 1.5,
        "max_buffered_traces": 7,
        "max_spans_per_trace": 8,
        "export_queue_size": 9,
        "recent_traces": 0,
        "keep_all_traces": True,
        "instrument_threads": False,
        "exit_flush_timeout_s": 0.0,
        "local_store": False,
        "db_path": "/var/traces.db",
        "store_max_bytes": 500_000_000,
        "store_max_age_s": 0.0,
        "store_max_traces": 5000,
        "console": True,
        "otlp_endpoint": "http://collector:4318",
        "otlp_dialect": "mlflow",
        "otlp_sample_rate": 0.25,
        "redaction": False,
        "capture_content": False,
        "prices": str(prices),
        "metrics": False,
        "metrics_legacy_names": True,
    }


def test_an_explicit_argument_beats_the_environment_which_beats_the_default() -> None:
    environ = {"GENAI_TRACE_MAX_PAYLOAD_CHARS": "5000", "OTEL_SERVICE_NAME": "from-env"}
    config = resolve({"max_payload_chars": 9000}, environ=environ)
    assert changed(config) == {"max_payload_chars": 9000, "service_name": "from-env"}


def test_an_explicit_argument_wins_even_over_a_bad_environment_variable() -> None:
    config = resolve({"max_payload_chars": 9000}, environ={"GENAI_TRACE_MAX_PAYLOAD_CHARS": "x"})
    assert config.max_payload_chars == 9000


def test_base_is_overridden_by_the_environment_and_arguments() -> None:
    base = Config(service_name="base", disabled=True, recent_traces=5)
    config = resolve({"recent_traces": 6}, environ={"OTEL_SERVICE_NAME": "env"}, base=base)
    assert changed(config) == {"service_name": "env", "disabled": True, "recent_traces": 6}


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_environment_variable_counts_as_unset(raw: str) -> None:
    environ = {env_var: raw for env_var, _ in ENV_VARS.values()}
    assert resolve({}, environ=environ) == Config()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("true", True), (" TRUE ", True), ("Yes", True), ("on", True),
     ("0", False), ("false", False), ("no", False), ("OFF", False)],
)  # fmt: skip
def test_boolean_environment_variables(raw: str, expected: bool) -> None:
    assert resolve({}, environ={"GENAI_TRACE_DISABLED": raw}).disabled is expected


def test_the_real_environment_is_read_when_none_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENAI_TRACE_RECENT_TRACES", "42")
    assert resolve({}).recent_traces == 42


def test_an_unknown_setting_is_a_type_error_naming_it_and_the_known_ones() -> None:
    with pytest.raises(TypeError) as raised:
        resolve({"max_payload": 10, "colour": "red"}, environ={})
    message = str(raised.value)
    assert message.startswith("configure() got unknown setting(s) colour, max_payload; ")
    known = [f.name for f in dataclasses.fields(Config)]
    assert message.endswith("known settings are: " + ", ".join(sorted(known)))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_payload_chars", True),  # bool is not an int here
        ("max_payload_chars", 1000.0),
        ("max_payload_chars", "1000"),
        ("max_payload_chars", None),
        ("recent_traces", False),
        ("trace_timeout_s", True),
        ("trace_timeout_s", "5"),
        ("exit_flush_timeout_s", None),
        ("disabled", 1),
        ("disabled", "false"),
        ("keep_all_traces", None),
        ("instrument_threads", 0),
        ("service_name", 123),
        ("project_name", b"bytes"),
        ("otlp_headers", ["not", "a", "mapping"]),
        ("console", "yes"),
        ("otlp_sample_rate", "0.5"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_type_error(name: str, value: object) -> None:
    with pytest.raises(TypeError, match=rf"^configure\({name}=\.\.\.\) must be "):
        resolve({name: value}, environ={})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_payload_chars", 63),
        ("max_payload_chars", 0),
        ("max_buffered_traces", 0),
        ("max_spans_per_trace", -1),
        ("export_queue_size", 0),
        ("recent_traces", -1),
        ("trace_timeout_s", 0),
        ("trace_timeout_s", -1.0),
        ("trace_timeout_s", math.nan),
        ("trace_timeout_s", math.inf),
        ("exit_flush_timeout_s", -0.1),
        ("exit_flush_timeout_s", math.inf),
        ("service_name", ""),
        ("otlp_protocol", "http/json"),
        ("otlp_dialect", "zipkin"),
        ("otlp_sample_rate", 1.5),
    ],
)
def test_a_value_out_of_range_is_a_value_error(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"^configure\({name}=\.\.\.\) must be "):
        resolve({name: value}, environ={})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("max_payload_chars", 64),
        ("recent_traces", 0),
        ("trace_timeout_s", 1),
        ("trace_timeout_s", 0.001),
        ("exit_flush_timeout_s", 0),
        ("service_name", None),
        ("disabled", True),
        ("otlp_headers", {"x-key": "1"}),
        ("otlp_sample_rate", 0),
        ("otlp_dialect", "mlflow"),
    ],
)
def test_values_at_the_edge_of_their_range_are_accepted(name: str, value: object) -> None:
    assert getattr(resolve({name: value}, environ={}), name) == value


@pytest.mark.parametrize(
    ("env_var", "raw"),
    [
        ("GENAI_TRACE_MAX_PAYLOAD_CHARS", "lots"),
        ("GENAI_TRACE_MAX_PAYLOAD_CHARS", "10"),  # the same range as an argument
        ("GENAI_TRACE_MAX_PAYLOAD_CHARS", "1e6"),
        ("GENAI_TRACE_RECENT_TRACES", "-1"),
        ("GENAI_TRACE_TRACE_TIMEOUT_S", "nan"),
        ("GENAI_TRACE_TRACE_TIMEOUT_S", "inf"),
        ("GENAI_TRACE_TRACE_TIMEOUT_S", "0"),
        ("GENAI_TRACE_EXIT_FLUSH_TIMEOUT_S", "-1"),
        ("GENAI_TRACE_DISABLED", "maybe"),
        ("GENAI_TRACE_INSTRUMENT_THREADS", "2"),
    ],
)
def test_a_bad_environment_variable_is_a_value_error_naming_it(env_var: str, raw: str) -> None:
    with pytest.raises(ValueError) as raised:
        resolve({}, environ={env_var: raw})
    assert str(raised.value).startswith(f"environment variable {env_var}={raw!r} is invalid: ")


def test_exporters_are_kept_as_a_tuple() -> None:
    exporter = InMemoryTraceExporter()
    assert resolve({"exporters": [exporter]}, environ={}).exporters == (exporter,)
    assert resolve({"exporters": []}, environ={}).exporters == ()
    assert resolve({"exporters": None}, environ={}).exporters is None


@pytest.mark.parametrize(
    "exporters",
    [InMemoryTraceExporter(), "console", [object()], [InMemoryTraceExporter, print]],
)
def test_exporters_that_are_not_exporters_are_a_type_error(exporters: object) -> None:
    with pytest.raises(TypeError, match=r"^configure\(exporters=\.\.\.\) "):
        resolve({"exporters": exporters}, environ={})


def test_tracer_provider_must_be_an_sdk_provider() -> None:
    provider = TracerProvider()
    assert resolve({"tracer_provider": provider}, environ={}).tracer_provider is provider
    with pytest.raises(TypeError, match=re.escape("must be an opentelemetry.sdk.trace")):
        resolve({"tracer_provider": object()}, environ={})


def test_config_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULTS.disabled = True  # type: ignore[misc]


def test_every_env_var_names_a_field_and_is_used_once() -> None:
    source_fields = {f.name for f in dataclasses.fields(Config)}
    assert set(ENV_VARS) <= source_fields
    env_vars: Sequence[str] = [env_var for env_var, _ in ENV_VARS.values()]
    assert len(set(env_vars)) == len(env_vars)
