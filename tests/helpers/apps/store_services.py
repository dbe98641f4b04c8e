"""Two services writing parts of one trace to one local store (``GENAI_TRACE_DB``).

``python store_services.py serve ORDER``: service B, an http.server on 127.0.0.1 that
prints its port and answers ``POST /answer`` inside ``genai_trace.extract(headers)`` with
``@trace`` spans. ``ORDER`` decides which part reaches the store first: ``b-first`` stores
B's part before answering; ``a-first`` answers, then keeps its root open until the caller's
part is in the store.

``python store_services.py call URL``: service A, a ``@trace`` root that calls B with
``genai_trace.inject`` headers, prints the trace id and exits (its part is stored at exit).
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import genai_trace
from genai_trace import SpanType

WAIT_S = 30.0


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def b_retrieve(question: str) -> list[str]:
    return [f"doc about {question}"]


@genai_trace.trace(span_type=SpanType.LLM)
def b_llm(question: str, docs: list[str]) -> dict[str, Any]:
    return {
        "choices": [{"message": {"role": "assistant", "content": question.upper()}}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3},
    }


def stored(trace_id: str) -> bool:
    path = os.environ["GENAI_TRACE_DB"]
    if not os.path.exists(path):
        return False
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute("SELECT 1 FROM traces WHERE trace_id = ?", (trace_id,))
        return row.fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        connection.close()


class AnswerHandler(BaseHTTPRequestHandler):
    order = "b-first"

    @genai_trace.trace(name="b.handle")
    def handle_answer(self, body: dict[str, Any]) -> str:
        genai_trace.update_current_trace(tags={"service": "b"}, metadata={"b": 1})
        reply = b_llm(body["question"], b_retrieve(body["question"]))
        answer = str(reply["choices"][0]["message"]["content"])
        if self.order == "a-first":
            self.reply(answer)  # the caller's root ends and is stored while this one runs
            trace_id = genai_trace.get_current_span().trace_id
            deadline = time.monotonic() + WAIT_S
            while not stored(trace_id) and time.monotonic() < deadline:
                time.sleep(0.05)
        return answer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with genai_trace.extract(self.headers):
            answer = self.handle_answer(body)
        if self.order == "b-first":
            genai_trace.flush(WAIT_S)  # B's part is in the store before A's root ends
            self.reply(answer)

    def reply(self, answer: str) -> None:
        payload = json.dumps({"answer": answer}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        pass


@genai_trace.trace(name="a.call_b", span_type=SpanType.TOOL)
def a_call_b(url: str, question: str) -> dict[str, Any]:
    headers = genai_trace.inject({"Content-Type": "application/json"})
    data = json.dumps({"question": question}).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


@genai_trace.trace(name="a.ask")
def a_ask(url: str, question: str) -> str:
    genai_trace.update_current_trace(tags={"service": "a", "caller": "yes"})
    return str(a_call_b(url, question)["answer"])


def main() -> None:
    role = sys.argv[1]
    if role == "serve":
        AnswerHandler.order = sys.argv[2]
        server = ThreadingHTTPServer(("127.0.0.1", 0), AnswerHandler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
    else:
        with genai_trace.context(session_id="chat-1", user_id="ada"):
            a_ask(sys.argv[2], "what is otlp")
        print(genai_trace.get_last_trace_id(), flush=True)


if __name__ == "__main__":
    main()
