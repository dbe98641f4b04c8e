"""What the fake LLM servers share: a recording HTTP server on 127.0.0.1, run on a thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class RecordingServer(ThreadingHTTPServer):
    """Listens on a free port of 127.0.0.1; handlers append ``(path, JSON body)`` to requests."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.requests: list[tuple[str, dict[str, Any]]] = []


class BackgroundServer:
    """A :class:`RecordingServer` served on a daemon thread between start() and stop()."""

    def __init__(self, server: RecordingServer) -> None:
        self._server = server
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def root_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def requests(self) -> list[tuple[str, dict[str, Any]]]:
        """``(path, JSON body)`` of every request received, in order."""
        return self._server.requests

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
