"""The low-level client: a workflow whose steps start and end by id, as callbacks would.

Run: python examples/client_workflow.py

genai_trace.TraceClient suits code that cannot nest ``with`` blocks: a job queue, an event
replay, a server that starts work in one request and finishes it in another. Each step names
its trace and parent by id; genai-trace assembles the same whole trace as with @trace.
No server and no API key needed.
"""

from __future__ import annotations

from _offline import last_trace, print_trace

import genai_trace
from genai_trace import SpanType

# What a workflow engine might hand us, one event at a time.
EVENTS = [
    ("start", "ticket-42", {"question": "Why is my export slow?"}),
    ("retrieval", "ticket-42", ["Exports run on a worker thread.", "Batches are capped."]),
    ("llm", "ticket-42", "Your exporter batches traces; a slow backend only delays itself."),
    ("end", "ticket-42", None),
]


def run_workflow(client: genai_trace.TraceClient) -> None:
    open_traces: dict[str, genai_trace.GenAISpan] = {}  # ticket -> root span
    for kind, ticket, payload in EVENTS:
        if kind == "start":
            open_traces[ticket] = client.start_trace(
                "support_workflow",
                inputs=payload,
                client_request_id=ticket,
                tags={"queue": "support"},
            )
            continue
        root = open_traces[ticket]
        if kind == "retrieval":
            step = client.start_span(
                "search_docs", trace_id=root.trace_id, parent_id=root.span_id,
                span_type=SpanType.RETRIEVER, inputs={"query": "export slow"},
            )  # fmt: skip
            client.end_span(trace_id=step.trace_id, span_id=step.span_id, outputs=payload)
        elif kind == "llm":
            step = client.start_span(
                "draft_answer", trace_id=root.trace_id, parent_id=root.span_id,
                span_type=SpanType.LLM,
                inputs={"messages": [{"role": "user", "content": "Why is my export slow?"}]},
            )  # fmt: skip
            step.set_token_usage(input_tokens=12, output_tokens=11)
            client.end_span(trace_id=step.trace_id, span_id=step.span_id, outputs=payload)
        elif kind == "end":
            client.end_trace(trace_id=root.trace_id, outputs={"answer": EVENTS[2][2]})
            del open_traces[ticket]


def main() -> None:
    run_workflow(genai_trace.TraceClient())
    trace = last_trace()
    print_trace(trace)
    found = genai_trace.get_trace("ticket-42")  # by client_request_id
    same = found is not None and found.info.trace_id == trace.info.trace_id
    print(f"found by client_request_id: {same}")


if __name__ == "__main__":
    main()
