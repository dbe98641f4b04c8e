"""A small OpenAI-compatible HTTP server on 127.0.0.1 with deterministic answers.

The real ``openai`` client talks to it over real HTTP, so the official OpenTelemetry
instrumentation runs exactly as it does against the real API. Every answer and every token
count follows from the request, so tests can assert exact values:

- ``POST /v1/chat/completions``: the reply is ``reply_for(messages)``; usage counts words
  (``count_tokens``) of every message's content (input) and of the reply (output).
  ``"stream": true`` sends the reply word by word as server-sent events, waiting
  ``first_chunk_delay_s`` before the first one, then a usage chunk when
  ``stream_options.include_usage`` is set.
- Tool calls: when the request offers ``tools`` and its last message is not a tool result,
  the reply calls the first tool (``tool_call_for``: its first parameter, or ``query``, set
  to the last user text; ``finish_reason: "tool_calls"``; output tokens count the words of
  the arguments' JSON). After a tool result (a last message of role ``tool``) the reply is
  ``The tool said: <its content>``. Streamed, the call comes in one chunk.
- ``POST /v1/responses``: the same reply for ``input`` (a string or a message list).
- ``POST /v1/embeddings``: one 3-number vector per input text (``embedding_for``); input
  tokens count words. Honours ``encoding_format`` (the client asks for base64).
- Cached and reasoning tokens, as the real API reports them, when the request asks with
  headers: ``x-fake-cached-tokens: N`` puts N of the input tokens in
  ``prompt_tokens_details.cached_tokens``, ``x-fake-reasoning-tokens: N`` adds N reasoning
  tokens to the output (``completion_tokens_details.reasoning_tokens``).
- model ``error-400`` answers 400 and ``error-500`` answers 500, with an OpenAI error body.

Used by the tests (``from openai_server import OpenAIServer``) and by the examples, which
start it when ``OPENAI_BASE_URL`` is not set so that they run offline.
"""

from __future__ import annotations

import base64
import json
import struct
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

CREATED = 1_700_000_000


def input_tokens_of(messages: list[dict[str, Any]]) -> int:
    return sum(count_tokens(content_text(m.get("content"))) for m in messages)


def tool_call_for(body: dict[str, Any]) -> dict[str, Any] | None:
    """The tool call a chat request gets, or None when it gets an answer."""
    messages, tools = body["messages"], body.get("tools") or []
    if not tools or (messages and messages[-1].get("role") == "tool"):
        return None
    function = tools[0].get("function", tools[0])
    parameters = list((function.get("parameters") or {}).get("properties") or {}) or ["query"]
    arguments = {parameters[0]: reply_for(messages).removeprefix("You said: ")}
    calls = sum(1 for m in messages if m.get("role") == "tool") + 1
    return {"id": f"call-{calls}", "type": "function",
            "function": {"name": function["name"], "arguments": json.dumps(arguments)}}  # fmt: skip


def chat_reply_for(messages: list[dict[str, Any]]) -> str:
    """The answer to a chat: after a tool result, what the tool said; else the echo."""
    if messages and messages[-1].get("role") == "tool":
        return f"The tool said: {content_text(messages[-1].get('content'))}"
    return reply_for(messages)


def embedding_for(text: str) -> list[float]:
    """A deterministic 3-number embedding: characters, words, vowels."""
    return [float(len(text)), float(count_tokens(text)), float(sum(c in "aeiou" for c in text))]


def _as_messages(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    return [m for m in value if isinstance(m, dict)]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.server.requests.append((self.path, body))
        model = str(body.get("model", ""))
        if model.startswith("error-"):
            status = int(model.removeprefix("error-"))
            self._json(status, {"error": {"message": f"the fake server fails with {status}",
                                          "type": "server_error" if status >= 500
                                          else "invalid_request_error",
                                          "param": None, "code": None}})  # fmt: skip
            return
        if self.path == "/v1/chat/completions":
            self._chat(body)
        elif self.path == "/v1/responses":
            self._responses(body)
        elif self.path == "/v1/embeddings":
            self._embeddings(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        send_json(self, status, payload)

    def _usage(self, prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
        cached = int(self.headers.get("x-fake-cached-tokens", "0"))
        reasoning = int(self.headers.get("x-fake-reasoning-tokens", "0"))
        completion_tokens += reasoning
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        if cached or reasoning:
            usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
            usage["completion_tokens_details"] = {"reasoning_tokens": reasoning,
                                                  "audio_tokens": 0}  # fmt: skip
        return usage

    def _chat(self, body: dict[str, Any]) -> None:
        messages = body["messages"]
        tool_call = tool_call_for(body)
        if tool_call is not None:
            self._tool_call(body, tool_call)
            return
        reply = chat_reply_for(messages)
        prompt_tokens, completion_tokens = input_tokens_of(messages), count_tokens(reply)
        usage = self._usage(prompt_tokens, completion_tokens)
        base = {"id": "chatcmpl-1", "created": CREATED, "model": body["model"]}
        if not body.get("stream"):
            self._json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "stop", "logprobs": None,
                 "message": {"role": "assistant", "content": reply}}]})  # fmt: skip
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = {**base, "object": "chat.completion.chunk"}
        words = reply.split(" ")
        time.sleep(self.server.first_chunk_delay_s)
        try:
            for i, word in enumerate(words):
                delta = {"content": word if i == len(words) - 1 else word + " "}
                if i == 0:
                    delta["role"] = "assistant"
                self._event({**chunk, "choices": [
                    {"index": 0, "delta": delta, "finish_reason": None}]})  # fmt: skip
                time.sleep(self.server.chunk_delay_s)
            self._event({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                self._event({**chunk, "choices": [], "usage": usage})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading
            pass

    def _tool_call(self, body: dict[str, Any], call: dict[str, Any]) -> None:
        prompt_tokens = input_tokens_of(body["messages"])
        completion_tokens = count_tokens(call["function"]["arguments"])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}  # fmt: skip
        base = {"id": "chatcmpl-1", "created": CREATED, "model": body["model"]}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        if not body.get("stream"):
            self._json(200, {**base, "object": "chat.completion", "usage": usage, "choices": [
                {"index": 0, "finish_reason": "tool_calls", "logprobs": None,
                 "message": message}]})  # fmt: skip
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        chunk = {**base, "object": "chat.completion.chunk"}
        delta = {**message, "tool_calls": [{"index": 0, **call}]}
        self._event({**chunk, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        self._event({**chunk, "choices": [
            {"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})  # fmt: skip
        if (body.get("stream_options") or {}).get("include_usage"):
            self._event({**chunk, "choices": [], "usage": usage})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()

    def _event(self, payload: dict[str, Any]) -> None:
        self.wfile.write(b"data: " + json.dumps(payload).encode() + b"\n\n")
        self.wfile.flush()

    def _responses(self, body: dict[str, Any]) -> None:
        messages = _as_messages(body["input"])
        if body.get("instructions"):
            messages = [{"role": "system", "content": body["instructions"]}, *messages]
        reply = reply_for(messages)
        input_tokens, output_tokens = input_tokens_of(messages), count_tokens(reply)
        self._json(200, {
            "id": "resp-1", "object": "response", "created_at": CREATED, "status": "completed",
            "model": body["model"], "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "output": [{
                "type": "message", "id": "msg-1", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": reply, "annotations": []}]}],
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens,
                      "total_tokens": input_tokens + output_tokens,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens_details": {"reasoning_tokens": 0}},
        })  # fmt: skip

    def _embeddings(self, body: dict[str, Any]) -> None:
        texts = [body["input"]] if isinstance(body["input"], str) else list(body["input"])
        data = []
        for index, text in enumerate(texts):
            vector: Any = embedding_for(text)
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(count_tokens(t) for t in texts)
        self._json(200, {"object": "list", "model": body["model"], "data": data,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})  # fmt: skip


class _Server(RecordingServer):
    def __init__(self, first_chunk_delay_s: float, chunk_delay_s: float) -> None:
        super().__init__(_Handler)
        self.first_chunk_delay_s = first_chunk_delay_s
        self.chunk_delay_s = chunk_delay_s


class OpenAIServer(BackgroundServer):
    """The fake server, running on a thread. Use :func:`serve` to start and stop it."""

    def __init__(self, first_chunk_delay_s: float = 0.05, chunk_delay_s: float = 0.0) -> None:
        super().__init__(_Server(first_chunk_delay_s, chunk_delay_s))

    @property
    def base_url(self) -> str:
        """What the client takes as ``base_url``."""
        return self.root_url + "/v1"


def serve(first_chunk_delay_s: float = 0.05, chunk_delay_s: float = 0.0) -> OpenAIServer:
    """The fake server for a ``with`` block: started on entry, always stopped on exit."""
    return OpenAIServer(first_chunk_delay_s, chunk_delay_s)
