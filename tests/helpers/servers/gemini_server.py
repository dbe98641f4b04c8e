"""A small Gemini API (``generateContent``) server on 127.0.0.1 with deterministic answers.

The real ``google-genai`` client (``http_options={"base_url": server.root_url}``) talks to
it over real HTTP, so the official instrumentation runs as it does against Google's API:

- ``POST /v1/models/<model>:generateContent`` (or ``/v1beta/``): the reply is ``reply_for`` of the
  ``contents`` (role ``user``; the text of their ``parts``), one candidate with
  ``finishReason: "STOP"``; ``usageMetadata`` counts words (``count_tokens``) of the
  ``systemInstruction`` and every content (prompt) and of the reply (candidates).
- model ``error-400`` and ``error-500`` answer that status with a Google error body.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.helpers.servers.local_http import (
    BackgroundServer,
    RecordingServer,
    content_text,
    count_tokens,
    reply_for,
    send_json,
)

_ROUTE = re.compile(r"^/v1(beta)?/models/(?P<model>[^:/]+):generateContent$")


def _text(content: dict[str, Any] | None) -> str:
    return content_text((content or {}).get("parts"))


class _Handler(BaseHTTPRequestHandler):
    server: RecordingServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, body))
        route = _ROUTE.match(self.path.split("?")[0])
        if route is None:
            self._json(404, {"error": {"code": 404, "message": f"no route {self.path}",
                                       "status": "NOT_FOUND"}})  # fmt: skip
            return
        model = route["model"]
        if model.startswith("error-"):
            status = int(model.removeprefix("error-"))
            code = "INTERNAL" if status >= 500 else "INVALID_ARGUMENT"
            message = f"the fake server fails with {status}"
            self._json(status, {"error": {"code": status, "status": code, "message": message}})
            return
        self._json(200, self._generate(model, body))

    def _generate(self, model: str, body: dict[str, Any]) -> dict[str, Any]:
        contents = body.get("contents") or []
        messages = [{"role": c.get("role", "user"), "content": _text(c)} for c in contents]
        reply = reply_for(messages)
        prompt = count_tokens(_text(body.get("systemInstruction"))) + sum(
            count_tokens(m["content"]) for m in messages
        )
        output = count_tokens(reply)
        return {
            "candidates": [{"index": 0, "finishReason": "STOP",
                            "content": {"role": "model", "parts": [{"text": reply}]}}],
            "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": output,
                              "totalTokenCount": prompt + output},
            "modelVersion": model, "responseId": "resp-1",
        }  # fmt: skip

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        send_json(self, status, payload)


class GeminiServer(BackgroundServer):
    """The fake server, running on a thread; the client's base URL is ``root_url``."""

    def __init__(self) -> None:
        super().__init__(RecordingServer(_Handler))


def serve() -> GeminiServer:
    """The fake server for a ``with`` block: started on entry, always stopped on exit."""
    return GeminiServer()
