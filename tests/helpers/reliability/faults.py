"""Faults injected for real: a misbehaving OTLP/HTTP backend on 127.0.0.1, and child processes.

``FaultyBackend`` answers each request as the test scripts it: accept, a status code (with
``Retry-After``), hang until released, or close the connection without an answer. It decodes
every request it receives, so a test can say exactly which traces reached it.

``Child`` runs a Python script in its own process group and always kills the group at the
end; every wait on it is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.helpers.paths import REPO_ROOT

HOST = "127.0.0.1"
WAIT_S = 30.0
"""The safety net of every wait in these tests: a bound on a hang, never a speed claim."""


def wait_until(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    """Poll ``condition`` every 10 ms until it holds or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def free_port() -> int:
    """A port nothing listens on (connections to it are refused) right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- the misbehaving backend --------------------------------------------------------------


@dataclass(frozen=True)
class Accept:
    """Answer 200 with an empty OTLP response."""


@dataclass(frozen=True)
class Status:
    """Answer with ``code`` (and a ``Retry-After`` header when given)."""

    code: int
    retry_after: str | None = None


@dataclass(frozen=True)
class Hang:
    """Hold the request until ``FaultyBackend.release`` is set, then answer 200."""


@dataclass(frozen=True)
class Close:
    """Read the request, then close the connection without answering."""


Answer = Accept | Status | Hang | Close


@dataclass(frozen=True)
class Received:
    """One request as the backend saw it."""

    trace_ids: tuple[str, ...]
    span_names: tuple[str, ...]
    client_port: int
    answer: Answer


@dataclass
class FaultyBackend:
    """An OTLP/HTTP traces endpoint on 127.0.0.1 that misbehaves as scripted.

    ``script`` answers the next requests in order; after it runs out, ``default`` answers.
    """

    port: int = 0
    default: Answer = field(default_factory=Accept)
    script: deque[Answer] = field(default_factory=deque)
    received: list[Received] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    """Every request body, as sent (``ExportTraceServiceRequest`` bytes)."""
    release: threading.Event = field(default_factory=threading.Event)
    hanging: int = 0
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> FaultyBackend:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real collector

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                backend._answer(self, body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up on a hanging request: expected here

        self._server = Server((HOST, self.port), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="faulty backend", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(WAIT_S)

    def __enter__(self) -> FaultyBackend:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def wait_for(self, requests: int = 1, *, hanging: int = 0) -> None:
        """Block until ``requests`` requests arrived and ``hanging`` of them are held."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: len(self.received) >= requests and self.hanging >= hanging, WAIT_S
            )
        assert ok, (len(self.received), self.hanging)

    def delivered(self) -> list[str]:
        """Trace ids of the requests answered 200, in order."""
        return [
            trace_id
            for request in self.received
            if isinstance(request.answer, (Accept, Hang))
            for trace_id in request.trace_ids
        ]

    def _answer(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        message = ExportTraceServiceRequest()
        message.ParseFromString(body)
        spans = [
            span
            for resource_spans in message.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]
        with self._changed:
            answer = self.script.popleft() if self.script else self.default
            self.bodies.append(body)
            self.received.append(
                Received(
                    trace_ids=tuple(dict.fromkeys(span.trace_id.hex() for span in spans)),
                    span_names=tuple(span.name for span in spans),
                    client_port=int(handler.client_address[1]),
                    answer=answer,
                )
            )
            if isinstance(answer, Hang):
                self.hanging += 1
            self._changed.notify_all()
        if isinstance(answer, Close):
            handler.close_connection = True
            return
        if isinstance(answer, Hang):
            self.release.wait(WAIT_S * 4)
            with self._changed:
                self.hanging -= 1
                self._changed.notify_all()
        code = answer.code if isinstance(answer, Status) else 200
        payload = ExportTraceServiceResponse().SerializeToString()
        handler.send_response(code)
        handler.send_header("Content-Type", "application/x-protobuf")
        handler.send_header("Content-Length", str(len(payload)))
        if isinstance(answer, Status) and answer.retry_after is not None:
            handler.send_header("Retry-After", answer.retry_after)
        handler.end_headers()
        handler.wfile.write(payload)


def threads_blocked_on_sockets() -> set[str]:
    """Names of this process's threads blocked reading a socket right now."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    blocked = set()
    for ident, frame in sys._current_frames().items():
        walk: Any = frame
        while walk is not None:
            code = walk.f_code
            if code.co_filename.endswith("socket.py") and code.co_name == "readinto":
                blocked.add(names.get(ident, str(ident)))
                break
            walk = walk.f_back
    return blocked


# --- child processes -----------------------------------------------------------------------


class Child:
    """A Python script run in its own process group; the group is always killed at the end.

    The repository is on its path, so it can import
    ``tests.helpers.reliability.child_app`` for the pieces every child shares.
    """

    def __init__(self, script: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        child_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), child_env.get("PYTHONPATH", "")])
        child_env["PYTHONUNBUFFERED"] = "1"
        child_env.update(env or {})
        path = cwd / f"child_{id(self)}.py"
        path.write_text(textwrap.dedent(script))
        self.process = subprocess.Popen(
            [sys.executable, str(path)],
            cwd=cwd,
            env=child_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self._lines: deque[str] = deque()
        self._stdout_done = threading.Event()
        self.stdout: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""

    def _read(self) -> None:
        stream: IO[str] | None = self.process.stdout
        assert stream is not None
        for line in stream:
            self._lines.append(line.rstrip("\n"))
            self.stdout.append(line.rstrip("\n"))
        self._stdout_done.set()

    def read_line(self, timeout_s: float = WAIT_S) -> str:
        """The next line the child printed (fails after ``timeout_s``)."""
        assert wait_until(lambda: bool(self._lines) or self._stdout_done.is_set(), timeout_s)
        assert self._lines, f"the child printed nothing more; stderr:\n{self.finish()}"
        return self._lines.popleft()

    def send(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def finish(self, timeout_s: float = WAIT_S) -> str:
        """Wait for the exit (bounded), then return stderr; kills the group in any case."""
        try:
            self.process.wait(timeout_s)
        finally:
            self.kill()
        return self.stderr

    def kill(self) -> None:
        """Kill the child's whole process group (a no-op once it is gone); close the pipes."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(WAIT_S)
        if self.process.stdout is not None and self._stdout_done.wait(WAIT_S):
            self.process.stdout.close()
        if self.process.stderr is not None and not self.process.stderr.closed:
            self.stderr = self.process.stderr.read()
            self.process.stderr.close()

    @property
    def returncode(self) -> int | None:
        return self.process.returncode


def exported_lines(path: Path) -> list[tuple[int, str, str]]:
    """``(pid, trace name, trace id)`` per line written by ``child_app.FileExporter``."""
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        pid, name, trace_id = line.split(" ")
        rows.append((int(pid), name, trace_id))
    return rows
