"""Real OTLP backends on 127.0.0.1 for end-to-end tests: Arize Phoenix, MLflow, rotel.

Install them once with `bash scripts/setup_backends.sh` (one venv each under .ci/venvs/).
Use the fixtures from a test module with::

    pytest_plugins = ["tests.helpers.backends"]

    def test_x(phoenix: PhoenixServer) -> None: ...

Importing from this module at the top of a test module as well
(`from tests.helpers.backends import PhoenixServer`) is fine: the marker PYTEST_DONT_REWRITE in
this docstring stops pytest from warning that it cannot rewrite an already imported plugin, which
filterwarnings=error would turn into a collection error.
Fixtures, all session-scoped so each server starts once per run: `phoenix`, `mlflow_server`,
`rotel_to_phoenix`, `rotel_to_mlflow`. A backend whose venv is missing skips its tests, or fails
them when CI is set or GENAI_TRACE_BACKEND_TESTS=1, so CI cannot skip them silently.
This module uses only the stdlib and pytest: it runs in the project's venv.

Found while building this (arize-phoenix 20.26.1, mlflow 3.17.2, rotel 0.0.1a15, Python 3.11;
2 CPUs): a smoke run (both servers started, 5 traces) takes ~20 s.
- Phoenix: 10-11 s to a healthy /healthz (17 s on the very first start after install: cold
  disk cache), ~440 MB RSS, stops in ~0.3 s. Its OTLP/gRPC server binds [::]:PHOENIX_GRPC_PORT
  (every interface; no host setting exists), so that port is probed on 0.0.0.0. The span API
  answers 404 for a project that does not exist yet; fetch_spans() reads that as "no spans".
  Spans were readable ~0.1 s after export.
- MLflow: ~6 s to /health (14 s on the first start), ~500 MB RSS for its two processes (the
  `mlflow server` parent and one uvicorn worker), ~1.5 s to stop (uvicorn drains). Needs
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false (else job workers, ~2.7 GB). Without the
  x-mlflow-experiment-id header /v1/traces answers 422 and the OTel exporter only logs it:
  always read back. Read-back spans carry trace_id/span_id/parent_span_id in base64 (proto3
  JSON bytes), not hex: use mlflow_span()/MlflowServer.spans(). Attribute values are typed
  AnyValues, and JSON input.value with mime type application/json comes back as a kvlist
  (a dict after mlflow_attributes()). The search answer lists trace infos under "traces".
- PyPI's mlflow 3.18.0 has no matching mlflow-skinny release, so pip settles on 3.17.2.
- rotel-agent writes a pid file and a log file to /tmp by default (two agents would clash), so
  both go into the fixture's tmp dir. Ready in ~0.1 s, ~22 MB RSS. It takes the base exporter
  endpoint, not .../v1/traces, and a scheme even for gRPC (http://127.0.0.1:PORT; without it:
  "relative URL without a base", exit 1). NO_COLOR=1 keeps ANSI codes out of its log.
- Inherited OTEL_*, PHOENIX_*, MLFLOW_*, ROTEL_*, PYTHONPATH, PYTHONHOME and VIRTUAL_ENV are
  dropped from the servers' environment so a developer's shell cannot reconfigure them.
- pytest runs with filterwarnings=error, so every HTTP response, HTTPError and log file here
  is closed explicitly (a ResourceWarning would fail whichever test happens to be running).
- Session-scoped servers live until the whole pytest run ends: ~1 GB while it runs. Each server
  runs in its own process group, and stop() sends SIGTERM to the group, then SIGKILL.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
VENVS = REPO_ROOT / ".ci" / "venvs"
SETUP_COMMAND = "bash scripts/setup_backends.sh"
PHOENIX_BIN = VENVS / "phoenix" / "bin" / "phoenix"
MLFLOW_BIN = VENVS / "mlflow" / "bin" / "mlflow"
ROTEL_BIN = VENVS / "rotel" / "lib" / "python3.11" / "site-packages" / "rotel" / "rotel-agent"

HOST = "127.0.0.1"
_DROPPED_ENV_PREFIXES = ("OTEL_", "PHOENIX_", "MLFLOW_", "ROTEL_")
_DROPPED_ENV_KEYS = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
_handed_out_ports: set[int] = set()
_Server = TypeVar("_Server", bound="ServerProcess")


def free_port(host: str = HOST) -> int:
    """A TCP port that nothing listens on now, never the same one twice in this process."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out_ports:
            _handed_out_ports.add(port)
            return port
    raise RuntimeError("no free TCP port found")


def tcp_accepts(port: int, host: str = HOST, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def normalize_trace_id(trace_id: int | str) -> str:
    """32 lowercase hex digits, from an int (as OTel's SpanContext has it) or a hex string."""
    if isinstance(trace_id, int):
        return format(trace_id, "032x")
    text = trace_id.lower().removeprefix("0x").removeprefix("tr-")
    if len(text) != 32:
        raise ValueError(f"not a 32-hex trace id: {trace_id!r}")
    int(text, 16)
    return text


def normalize_span_id(span_id: int | str) -> str:
    return format(span_id, "016x") if isinstance(span_id, int) else span_id.lower()


class HttpError(RuntimeError):
    def __init__(self, status: int, url: str, body: str) -> None:
        super().__init__(f"HTTP {status} from {url}: {body[:500]}")
        self.status = status
        self.body = body


def http_request(
    method: str,
    url: str,
    *,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 10.0,
) -> tuple[int, bytes]:
    """One request; returns (status, body) for any HTTP status, raises OSError if unreachable."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return int(error.code), error.read()


def http_json(method: str, url: str, *, body: Any = None, timeout_s: float = 10.0) -> Any:
    """Decoded JSON of a 2xx answer; HttpError otherwise."""
    status, payload = http_request(method, url, body=body, timeout_s=timeout_s)
    if not 200 <= status < 300:
        raise HttpError(status, url, payload.decode(errors="replace"))
    return json.loads(payload)


def http_ok(url: str, *, timeout_s: float = 1.0) -> bool:
    try:
        status, _ = http_request("GET", url, timeout_s=timeout_s)
    except OSError:
        return False
    return status == 200


def _server_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_DROPPED_ENV_PREFIXES) and key not in _DROPPED_ENV_KEYS
    }
    env.update(extra)
    return env


class ServerProcess:
    """A subprocess with a readiness check, its output in a log file, and a bounded stop.

    The process runs in its own session (process group), and stop() signals the whole group,
    so workers it forked go too. Every wait here has a deadline.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str | os.PathLike[str]],
        *,
        log_dir: Path,
        ready: Callable[[], bool],
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        start_timeout_s: float = 60.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.env = _server_env(env or {})
        self.cwd = cwd or log_dir
        self.log_path = log_dir / f"{name}.log"
        self.ready = ready
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.startup_s: float | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Launches the process and waits until ready(); on any failure it is stopped again."""
        if self._process is not None:
            raise RuntimeError(f"{self.name} already started")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # closed in stop()
        began = time.monotonic()
        try:
            self._process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.cwd,
                stdin=subprocess.DEVNULL,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self._wait_ready(began + self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        self.startup_s = time.monotonic() - began

    def _wait_ready(self, deadline: float) -> None:
        assert self._process is not None
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {code} before it was ready; "
                    f"log {self.log_path}:\n{self.log_tail()}"
                )
            if self.ready():
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} was not ready within {self.start_timeout_s:.0f} s; "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after stop_timeout_s; idempotent."""
        process, self._process = self._process, None
        try:
            if process is not None:
                self._signal_group(process, signal.SIGTERM)
                try:
                    process.wait(timeout=self.stop_timeout_s)
                except subprocess.TimeoutExpired:
                    self._signal_group(process, signal.SIGKILL)
                    process.wait(timeout=self.stop_timeout_s)
                # Anything of its group that outlived it (an orphaned worker) goes too.
                self._signal_group(process, signal.SIGKILL)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    @staticmethod
    def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self: _Server) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _poll(
    fetch: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    timeout_s: float,
    interval_s: float = 0.1,
) -> Any:
    """Calls fetch() until done(result) or the deadline; returns the last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = fetch()
        if done(result) or time.monotonic() >= deadline:
            return result
        time.sleep(interval_s)


class PhoenixServer(ServerProcess):
    """Arize Phoenix with OTLP/HTTP and OTLP/gRPC on free ports and a fresh working dir."""

    def __init__(self, work_dir: Path, *, start_timeout_s: float = 90.0) -> None:
        self.port = free_port()
        self.grpc_port = free_port("0.0.0.0")  # Phoenix binds gRPC on every interface.
        self.base_url = f"http://{HOST}:{self.port}"
        env = {
            "PHOENIX_WORKING_DIR": str(work_dir / "phoenix-data"),
            "PHOENIX_HOST": HOST,
            "PHOENIX_PORT": str(self.port),
            "PHOENIX_GRPC_PORT": str(self.grpc_port),
            "PHOENIX_TELEMETRY_ENABLED": "false",
            "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
        }
        super().__init__(
            "phoenix",
            [PHOENIX_BIN, "serve"],
            log_dir=work_dir,
            env=env,
            ready=lambda: http_ok(f"{self.base_url}/healthz"),
            start_timeout_s=start_timeout_s,
        )

    @property
    def otlp_http_endpoint(self) -> str:
        return f"{self.base_url}/v1/traces"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"{HOST}:{self.grpc_port}"

    def fetch_spans(self, trace_id: int | str, project: str = "default") -> list[dict[str, Any]]:
        """One read of the trace's spans as they are now ([] while the project is unknown)."""
        query = {"trace_id": normalize_trace_id(trace_id), "limit": "100"}
        project_path = urllib.parse.quote(project, safe="")
        spans: list[dict[str, Any]] = []
        for _ in range(100):  # pages of 100; bounded
            url = f"{self.base_url}/v1/projects/{project_path}/spans?"
            status, payload = http_request("GET", url + urllib.parse.urlencode(query))
            if status == 404:
                return spans
            if status != 200:
                raise HttpError(status, url, payload.decode(errors="replace"))
            page = json.loads(payload)
            spans.extend(page.get("data") or [])
            if not page.get("next_cursor"):
                break
            query["cursor"] = page["next_cursor"]
        return spans

    def spans(
        self,
        trace_id: int | str,
        project: str = "default",
        expect: int = 1,
        timeout_s: float = 15.0,
    ) -> list[dict[str, Any]]:
        """The trace's spans once at least `expect` are stored; AssertionError on timeout.

        Each span has `name`, `span_kind`, `parent_id`, `context.trace_id`/`span_id`,
        `attributes` and `events`. expect=0 reads once and returns what is there.
        """
        found = _poll(
            lambda: self.fetch_spans(trace_id, project),
            lambda got: len(got) >= expect,
            timeout_s=timeout_s if expect > 0 else 0.0,
        )
        if len(found) < expect:
            names = [span.get("name") for span in found]
            raise AssertionError(
                f"Phoenix has {len(found)} of {expect} spans of trace "
                f"{normalize_trace_id(trace_id)} in project {project!r} after {timeout_s} s: "
                f"{names}; log tail:\n{self.log_tail(20)}"
            )
        return list(found)


def mlflow_attribute_value(value: Mapping[str, Any]) -> Any:
    """An OTLP AnyValue as MLflow returns it ({string_value|int_value|...}) as a plain value.

    Strings are returned as they are (no JSON decoding: a dialect that writes JSON text gets
    that text back); kvlists become dicts and arrays lists.
    """
    if "string_value" in value:
        return value["string_value"]
    if "bool_value" in value:
        return bool(value["bool_value"])
    if "int_value" in value:
        return int(value["int_value"])  # proto3 JSON may carry int64 as a string
    if "double_value" in value:
        return float(value["double_value"])
    if "array_value" in value:
        return [mlflow_attribute_value(item) for item in value["array_value"].get("values", [])]
    if "kvlist_value" in value:
        return {
            item["key"]: mlflow_attribute_value(item.get("value", {}))
            for item in value["kvlist_value"].get("values", [])
        }
    if "bytes_value" in value:
        return base64.b64decode(value["bytes_value"])
    return None


def mlflow_attributes(span: Mapping[str, Any]) -> dict[str, Any]:
    """A span's attributes from MLflow's read-back API as a plain dict."""
    return {
        item["key"]: mlflow_attribute_value(item.get("value", {}))
        for item in span.get("attributes", [])
    }


def mlflow_hex_id(b64_id: str | None) -> str | None:
    """MLflow returns OTLP ids base64-encoded (proto3 JSON bytes); this gives lowercase hex."""
    return base64.b64decode(b64_id).hex() if b64_id else None


def mlflow_span(span: Mapping[str, Any]) -> dict[str, Any]:
    """One of MLflow's read-back spans, flattened: name, trace_id/span_id/parent_id in hex,
    span_type (the mlflow.spanType attribute), attributes as a plain dict, and the raw span.
    """
    attributes = mlflow_attributes(span)
    return {
        "name": span.get("name"),
        "trace_id": mlflow_hex_id(span.get("trace_id")),
        "span_id": mlflow_hex_id(span.get("span_id")),
        "parent_id": mlflow_hex_id(span.get("parent_span_id")),
        "span_type": attributes.get("mlflow.spanType"),
        "attributes": attributes,
        "status": span.get("status") or {},
        "events": span.get("events") or [],
        "raw": span,
    }


class MlflowServer(ServerProcess):
    """An MLflow tracking server with a SQLite store in a tmp dir; OTLP/HTTP only."""

    experiment_id = "0"

    def __init__(self, work_dir: Path, *, start_timeout_s: float = 90.0) -> None:
        self.port = free_port()
        self.base_url = f"http://{HOST}:{self.port}"
        data = work_dir / "mlflow-data"
        data.mkdir(parents=True, exist_ok=True)
        env = {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        }
        argv: list[str | os.PathLike[str]] = [
            MLFLOW_BIN,
            "server",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{data / 'mlflow.db'}",
            "--default-artifact-root",
            str(data / "artifacts"),
        ]
        super().__init__(
            "mlflow",
            argv,
            log_dir=work_dir,
            env=env,
            ready=lambda: http_ok(f"{self.base_url}/health"),
            start_timeout_s=start_timeout_s,
        )

    @property
    def otlp_http_endpoint(self) -> str:
        return f"{self.base_url}/v1/traces"

    @property
    def headers(self) -> dict[str, str]:
        """Headers every OTLP export to this server needs (without them: 422)."""
        return {"x-mlflow-experiment-id": self.experiment_id}

    def fetch_trace(self, trace_id: int | str) -> dict[str, Any] | None:
        """One read: {"trace_info": ..., "spans": [...]}, or None while it is unknown."""
        query = urllib.parse.urlencode({"trace_id": f"tr-{normalize_trace_id(trace_id)}"})
        url = f"{self.base_url}/api/3.0/mlflow/traces/get?{query}"
        status, payload = http_request("GET", url)
        if status == 404:
            return None
        if status != 200:
            raise HttpError(status, url, payload.decode(errors="replace"))
        trace: dict[str, Any] = json.loads(payload).get("trace") or {}
        return trace

    def trace(
        self, trace_id: int | str, expect_spans: int = 1, timeout_s: float = 15.0
    ) -> dict[str, Any]:
        """The trace once it has at least `expect_spans` spans; AssertionError on timeout."""
        found = _poll(
            lambda: self.fetch_trace(trace_id),
            lambda got: got is not None and len(got.get("spans") or []) >= expect_spans,
            timeout_s=timeout_s,
        )
        count = 0 if found is None else len(found.get("spans") or [])
        if count < expect_spans:
            raise AssertionError(
                f"MLflow has {count} of {expect_spans} spans of trace "
                f"tr-{normalize_trace_id(trace_id)} after {timeout_s} s; "
                f"log tail:\n{self.log_tail(20)}"
            )
        trace: dict[str, Any] = found
        return trace

    def spans(
        self, trace_id: int | str, expect: int = 1, timeout_s: float = 15.0
    ) -> list[dict[str, Any]]:
        """The trace's spans flattened by mlflow_span(), once at least `expect` are stored."""
        return [mlflow_span(span) for span in self.trace(trace_id, expect, timeout_s)["spans"]]

    def search_traces(
        self,
        *,
        experiment_id: str | None = None,
        filter_string: str | None = None,
        max_results: int = 100,
    ) -> list[dict[str, Any]]:
        """trace_info records of an experiment (default: this server's), all pages."""
        body: dict[str, Any] = {
            "locations": [
                {
                    "type": "MLFLOW_EXPERIMENT",
                    "mlflow_experiment": {"experiment_id": experiment_id or self.experiment_id},
                }
            ],
            "max_results": min(max_results, 500),
        }
        if filter_string:
            body["filter"] = filter_string
        infos: list[dict[str, Any]] = []
        url = f"{self.base_url}/api/3.0/mlflow/traces/search"
        for _ in range(100):  # bounded paging
            answer = http_json("POST", url, body=body)
            infos.extend(answer.get("traces") or [])
            token = answer.get("next_page_token")
            if not token or len(infos) >= max_results:
                break
            body["page_token"] = token
        return infos[:max_results]


class RotelCollector(ServerProcess):
    """The rotel OpenTelemetry collector receiving OTLP on free ports, exporting traces onward.

    exporter_endpoint is the BASE endpoint with a scheme (http://host:port, for gRPC too),
    protocol "http" or "grpc". debug_traces=True logs every received span in detail to
    log_path (read it with log_tail()).
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        exporter_endpoint: str,
        protocol: str,
        headers: Mapping[str, str] | None = None,
        debug_traces: bool = False,
        name: str = "rotel",
    ) -> None:
        if protocol not in ("http", "grpc"):
            raise ValueError(f"protocol must be http or grpc, not {protocol!r}")
        self.grpc_port = free_port()
        self.http_port = free_port()
        work_dir.mkdir(parents=True, exist_ok=True)
        argv: list[str | os.PathLike[str]] = [
            ROTEL_BIN,
            "start",
            "--pid-file",
            work_dir / f"{name}.pid",
            "--log-file",
            work_dir / f"{name}.agent.log",
            "--otlp-grpc-endpoint",
            f"{HOST}:{self.grpc_port}",
            "--otlp-http-endpoint",
            f"{HOST}:{self.http_port}",
            "--otlp-receiver-metrics-disabled",
            "--otlp-receiver-logs-disabled",
            "--exporter",
            "otlp",
            "--otlp-exporter-protocol",
            protocol,
            "--otlp-exporter-endpoint",
            exporter_endpoint,
        ]
        if headers:
            argv += [
                "--otlp-exporter-custom-headers",
                ",".join(f"{key}={value}" for key, value in headers.items()),
            ]
        if debug_traces:
            argv += ["--debug-log", "traces", "--debug-log-verbosity", "detailed"]
        super().__init__(
            name,
            argv,
            log_dir=work_dir,
            env={"NO_COLOR": "1"},  # plain text in the log file
            ready=lambda: tcp_accepts(self.http_port),
            start_timeout_s=20.0,
        )

    @classmethod
    def to_phoenix(
        cls, phoenix: PhoenixServer, work_dir: Path, *, debug_traces: bool = False
    ) -> RotelCollector:
        return cls(
            work_dir,
            exporter_endpoint=f"http://{HOST}:{phoenix.grpc_port}",
            protocol="grpc",
            debug_traces=debug_traces,
            name="rotel-to-phoenix",
        )

    @classmethod
    def to_mlflow(
        cls, mlflow: MlflowServer, work_dir: Path, *, debug_traces: bool = False
    ) -> RotelCollector:
        return cls(
            work_dir,
            exporter_endpoint=mlflow.base_url,
            protocol="http",
            headers=mlflow.headers,
            debug_traces=debug_traces,
            name="rotel-to-mlflow",
        )

    @property
    def otlp_http_endpoint(self) -> str:
        return f"http://{HOST}:{self.http_port}/v1/traces"

    @property
    def otlp_grpc_endpoint(self) -> str:
        return f"{HOST}:{self.grpc_port}"


def require_backend(executable: Path, what: str) -> None:
    """Skips the test when `what` is not installed, or fails it in CI and on demand."""
    if executable.exists():
        return
    shown = (
        executable.relative_to(REPO_ROOT) if executable.is_relative_to(REPO_ROOT) else executable
    )
    message = (
        f"{what} is not installed ({shown} is missing); "
        f"run `{SETUP_COMMAND}` from the repository root"
    )
    in_ci = os.environ.get("CI", "").lower() not in ("", "0", "false")
    if in_ci or os.environ.get("GENAI_TRACE_BACKEND_TESTS") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PhoenixServer]:
    require_backend(PHOENIX_BIN, "Arize Phoenix")
    with PhoenixServer(tmp_path_factory.mktemp("phoenix")) as server:
        yield server


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    require_backend(MLFLOW_BIN, "The MLflow tracking server")
    with MlflowServer(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture(scope="session")
def rotel_to_phoenix(
    phoenix: PhoenixServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RotelCollector]:
    require_backend(ROTEL_BIN, "The rotel collector")
    with RotelCollector.to_phoenix(phoenix, tmp_path_factory.mktemp("rotel-phoenix")) as rotel:
        yield rotel


@pytest.fixture(scope="session")
def rotel_to_mlflow(
    mlflow_server: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RotelCollector]:
    require_backend(ROTEL_BIN, "The rotel collector")
    with RotelCollector.to_mlflow(mlflow_server, tmp_path_factory.mktemp("rotel-mlflow")) as rotel:
        yield rotel
