"""What the fake LLM servers share: how they answer, and a recording HTTP server on 127.0.0.1.

Both echo the last user message (``You said: ...``) and count one token per word, so the
autolog tests of every provider expect the same replies and usage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


def count_tokens(text: str) -> int:
    """The servers' tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the ``text`` of its parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def reply_for(messages: list[dict[str, Any]]) -> str:
    """The answer to a conversation: the last user message, echoed."""
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    return f"You said: {content_text(last_user.get('content')) if last_user else ''}"


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

    def __enter__(self: _Server) -> _Server:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


_Server = TypeVar("_Server", bound=BackgroundServer)


def send_json(
    handler: BaseHTTPRequestHandler,
    status: int,
    payload: dict[str, Any],
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """Answer ``handler``'s request with ``payload`` as JSON, plus any extra ``headers``."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)
