"""A small Amazon Bedrock runtime server (the Converse API) on 127.0.0.1.

The real ``boto3`` ``bedrock-runtime`` client (``endpoint_url=server.root_url``, dummy
credentials) signs and sends its requests over real HTTP, so the official instrumentation
runs as it does against AWS. Every answer and token count follows from the request:

- ``POST /model/<model id>/converse``: the reply is ``reply_for`` of the ``messages`` (the
  ``text`` of their content blocks), with ``stopReason: "end_turn"``; ``usage`` counts words
  (``count_tokens``) of the ``system`` blocks and every message (input) and of the reply
  (output). The signature is not checked. Headers ``x-fake-cache-read-tokens: N`` and
  ``x-fake-cache-write-tokens: M`` move N and M of the input tokens to
  ``cacheReadInputTokens`` and ``cacheWriteInputTokens``, as Bedrock reports prompt caching
  (its ``inputTokens`` counts only the rest).
- model ``error-400`` answers 400 with a ``ValidationException``, as Bedrock does.
"""

from __future__ import annotations

import json
import re
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import unquote

from tests.helpers.servers.local_http import (
    BackgroundServer,
    RecordingServer,
    content_text,
    count_tokens,
    reply_for,
    send_json,
)

_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/converse$")


class _Handler(BaseHTTPRequestHandler):
    server: RecordingServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, body))
        route = _ROUTE.match(self.path)
        if route is None:
            self._json(404, {"message": f"no route {self.path}"}, "ResourceNotFoundException")
            return
        model = unquote(route["model"])
        if model == "error-400":
            self._json(400, {"message": "the fake server fails with 400"}, "ValidationException")
            return
        self._json(200, self._converse(body))

    def _converse(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = [{"role": m.get("role"), "content": content_text(m.get("content"))}
                    for m in body.get("messages") or []]  # fmt: skip
        reply = reply_for(messages)
        input_tokens = count_tokens(content_text(body.get("system"))) + sum(
            count_tokens(m["content"]) for m in messages
        )
        output_tokens = count_tokens(reply)
        usage = {"inputTokens": input_tokens, "outputTokens": output_tokens,
                 "totalTokens": input_tokens + output_tokens}  # fmt: skip
        cache_read = int(self.headers.get("x-fake-cache-read-tokens", "0"))
        cache_write = int(self.headers.get("x-fake-cache-write-tokens", "0"))
        if cache_read or cache_write:
            usage["inputTokens"] = input_tokens - cache_read - cache_write
            usage["cacheReadInputTokens"] = cache_read
            usage["cacheWriteInputTokens"] = cache_write
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
            "stopReason": "end_turn",
            "usage": usage,
            "metrics": {"latencyMs": 1},
        }  # fmt: skip

    def _json(self, status: int, payload: dict[str, Any], error_type: str = "") -> None:
        headers = [("x-amzn-RequestId", "req-1")]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        send_json(self, status, payload, headers)


class BedrockServer(BackgroundServer):
    """The fake server, running on a thread; the client's ``endpoint_url`` is ``root_url``."""

    def __init__(self) -> None:
        super().__init__(RecordingServer(_Handler))


def serve() -> BedrockServer:
    """The fake server for a ``with`` block: started on entry, always stopped on exit."""
    return BedrockServer()
