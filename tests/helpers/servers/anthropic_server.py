"""A small Anthropic Messages API server on 127.0.0.1 with deterministic answers.

The real ``anthropic`` client talks to it over real HTTP, so the official OpenTelemetry
instrumentation runs exactly as it does against the real API. Every answer and every token
count follows from the request, so tests can assert exact values:

- ``POST /v1/messages``: the reply is ``reply_for(messages)``, one text block with
  ``stop_reason: "end_turn"``; usage counts words (``count_tokens``) of the ``system``
  prompt and of every message's content (input) and of the reply (output). When the request
  offers ``tools``, the reply is instead a ``tool_use`` block calling the first tool with
  ``{"query": <last user text>}`` and ``stop_reason: "tool_use"``.
- ``"stream": true`` sends the same message as server-sent events, as the real API does
  (``message_start``, ``content_block_start``, a ``ping``, one ``content_block_delta`` per
  word, ``content_block_stop``, ``message_delta`` with the stop reason and output usage,
  ``message_stop``), waiting ``first_chunk_delay_s`` before the first one.
- Prompt caching, as the real API reports it, when the request asks with headers:
  ``x-fake-cache-read-tokens: N`` and ``x-fake-cache-write-tokens: M`` move N and M of the
  input tokens to ``cache_read_input_tokens`` and ``cache_creation_input_tokens``
  (Anthropic's ``input_tokens`` counts only the rest).
- model ``error-400``, ``error-500`` and ``error-529`` answer that status with an Anthropic
  error body; model ``stream-error`` streams its first word, then an ``error`` event
  (``overloaded_error``), as the real API does when it fails mid-stream.
"""

from __future__ import annotations

import json
import time
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

MESSAGE_ID = "msg_1"
TOOL_USE_ID = "toolu_1"
ERROR_TYPES = {400: "invalid_request_error", 500: "api_error", 529: "overloaded_error"}


def input_tokens_of(body: dict[str, Any]) -> int:
    """Words of the system prompt and of every message."""
    texts = [content_text(body.get("system")), *(content_text(m.get("content")) for m in
                                                  body["messages"])]  # fmt: skip
    return sum(count_tokens(text) for text in texts)


def _usage(
    input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens - cache_read - cache_write,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
    }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, body))
        if self.path != "/v1/messages":
            self._error(404, "not_found_error", f"no route {self.path}")
            return
        model = str(body.get("model", ""))
        if model.startswith("error-"):
            status = int(model.removeprefix("error-"))
            self._error(status, ERROR_TYPES.get(status, "api_error"),
                        f"the fake server fails with {status}")  # fmt: skip
            return
        if body.get("stream"):
            self._stream(body)
        else:
            self._json(200, self._message(body))

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        send_json(self, status, payload, [("request-id", "req_1")])

    def _error(self, status: int, error_type: str, message: str) -> None:
        self._json(status, {"type": "error", "error": {"type": error_type, "message": message}})

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        """The whole message the request asks for (the streamed events add up to it)."""
        messages = body["messages"]
        if body.get("tools"):
            last_user = next(m for m in reversed(messages) if m.get("role") == "user")
            tool_input = {"query": content_text(last_user.get("content"))}
            content = [{"type": "tool_use", "id": TOOL_USE_ID, "name": body["tools"][0]["name"],
                        "input": tool_input}]  # fmt: skip
            stop_reason, output_tokens = "tool_use", count_tokens(json.dumps(tool_input))
        else:
            reply = reply_for(messages)
            content = [{"type": "text", "text": reply}]
            stop_reason, output_tokens = "end_turn", count_tokens(reply)
        return {
            "id": MESSAGE_ID, "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "usage": _usage(input_tokens_of(body), output_tokens, *self._cached()),
        }  # fmt: skip

    def _stream(self, body: dict[str, Any]) -> None:
        message = self._message(body)
        reply = message["content"][0]["text"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        time.sleep(self.server.first_chunk_delay_s)
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**message["usage"], "output_tokens": 1}}  # fmt: skip
        try:
            self._event("message_start", {"type": "message_start", "message": start})
            self._event("content_block_start", {"type": "content_block_start", "index": 0,
                        "content_block": {"type": "text", "text": ""}})  # fmt: skip
            self._event("ping", {"type": "ping"})
            words = reply.split(" ")
            for i, word in enumerate(words):
                text = word if i == len(words) - 1 else word + " "
                self._event("content_block_delta", {"type": "content_block_delta", "index": 0,
                            "delta": {"type": "text_delta", "text": text}})  # fmt: skip
                if body["model"] == "stream-error":
                    self._event("error", {"type": "error", "error": {
                        "type": "overloaded_error", "message": "Overloaded"}})  # fmt: skip
                    return
            self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
            self._event("message_delta", {"type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": message["usage"]["output_tokens"]}})  # fmt: skip
            self._event("message_stop", {"type": "message_stop"})
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            pass

    def _cached(self) -> tuple[int, int]:
        return (int(self.headers.get("x-fake-cache-read-tokens", "0")),
                int(self.headers.get("x-fake-cache-write-tokens", "0")))  # fmt: skip

    def _event(self, name: str, payload: dict[str, Any]) -> None:
        self.wfile.write(f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode())
        self.wfile.flush()


class _Server(RecordingServer):
    def __init__(self, first_chunk_delay_s: float) -> None:
        super().__init__(_Handler)
        self.first_chunk_delay_s = first_chunk_delay_s


class AnthropicServer(BackgroundServer):
    """The fake server, running on a thread. Use :func:`serve` to start and stop it."""

    def __init__(self, first_chunk_delay_s: float = 0.05) -> None:
        super().__init__(_Server(first_chunk_delay_s))

    @property
    def base_url(self) -> str:
        """What the client takes as ``base_url`` (it appends ``/v1/messages``)."""
        return self.root_url


def serve(first_chunk_delay_s: float = 0.05) -> AnthropicServer:
    """The fake server for a ``with`` block: started on entry, always stopped on exit."""
    return AnthropicServer(first_chunk_delay_s)
