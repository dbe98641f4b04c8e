"""Quickstart: trace a tiny question-answering pipeline and print the trace.

Run: python examples/quickstart.py   (then: genai-trace show --last)

No server and no API key needed: the "LLM" here is a local function, so the example shows
the shape of a trace (a CHAIN with a RETRIEVER and a CHAT_MODEL under it) on any machine.
"""

from __future__ import annotations

import os

import genai_trace
from genai_trace import SpanType

DOCUMENTS = {
    "otlp": "OTLP is the OpenTelemetry protocol for sending traces, metrics and logs.",
    "span": "A span is one timed step of a trace, with a parent, attributes and events.",
}


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def retrieve(question: str, top_k: int = 2) -> list[str]:
    words = question.lower().split()
    return [text for key, text in DOCUMENTS.items() if key in words][:top_k]


@genai_trace.trace(span_type=SpanType.CHAT_MODEL)
def chat(messages: list[dict[str, str]]) -> dict[str, object]:
    context = messages[0]["content"]
    answer = f"In short: {context.split(':', 1)[-1].strip()}"
    span = genai_trace.get_current_span()
    span.set_token_usage(input_tokens=len(context.split()), output_tokens=len(answer.split()))
    return {"role": "assistant", "content": answer}


@genai_trace.trace
def answer(question: str) -> str:
    documents = retrieve(question)
    reply = chat(
        [
            {"role": "system", "content": "Answer from: " + " ".join(documents)},
            {"role": "user", "content": question},
        ]
    )
    return str(reply["content"])


def main() -> None:
    with genai_trace.context(session_id="quickstart", user_id="you"):
        print(answer("What is otlp ?"))
    trace = genai_trace.get_trace(genai_trace.get_last_trace_id() or "")
    assert trace is not None
    info = trace.info
    print(f"\ntrace {info.trace_id}  state={info.state}  {info.duration_ms:.2f} ms")
    print(f"request:  {info.request_preview}\nresponse: {info.response_preview}")
    print(f"tokens:   {info.token_usage}")
    for span, depth in trace.walk():
        print(f"{'  ' * depth}- {span.name} [{span.span_type}] {span.duration_ms:.2f} ms")
    genai_trace.flush()
    store = os.environ.get("GENAI_TRACE_DB") or ".genai_trace/traces.db"
    print(f"\nstored in {store}; read it with: genai-trace show --last")


if __name__ == "__main__":
    main()
