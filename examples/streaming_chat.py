"""Streaming chat: a generator span around an OpenAI stream, its output joined by a reducer.

Run: python examples/streaming_chat.py

The generator span records the whole reply (output_reducer="".join) and the wait for the
first token; the OpenAI stream under it (traced by genai_trace.autolog()) records the model,
the messages, token usage (stream_options include_usage) and its own time to first chunk.
Offline by default; set OPENAI_BASE_URL and OPENAI_API_KEY to use a real endpoint.
"""

from __future__ import annotations

from collections.abc import Iterator

from _offline import MODEL, client, last_trace, local_llm, print_trace

import genai_trace
from genai_trace import SpanType


@genai_trace.trace(span_type=SpanType.CHAIN, output_reducer="".join)
def stream_reply(question: str) -> Iterator[str]:
    stream = client().chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": question}],
        stream=True,
        stream_options={"include_usage": True},  # token usage arrives in the last chunk
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            yield chunk.choices[0].delta.content


def main() -> None:
    genai_trace.autolog("openai")
    with local_llm():
        for token in stream_reply("Tell me about streaming traces"):
            print(token, end="", flush=True)
        print()
    trace = last_trace()
    print_trace(trace)
    for span in trace.spans:
        first_ms = span.attributes.get("genai_trace.time_to_first_item_ms")
        print(f"{span.name}: output={span.outputs!r} time to first token={first_ms:.0f} ms")


if __name__ == "__main__":
    main()
