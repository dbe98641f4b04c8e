"""autolog("openai") in a fresh install: the official OpenAI instrumentation's chat span
nests under a ``@trace`` span, against the local OpenAI-compatible server of the tests.

Run by scripts/check_installs.sh; exits 1 (with the spans it saw) when the trace is wrong.
"""

from __future__ import annotations

import sys
from pathlib import Path

import openai

import genai_trace
from genai_trace.exporters import InMemoryTraceExporter

# The repository, for the tests' server: appended, and after genai_trace is imported, so that
# the installed genai_trace under test is the one used, never the checkout's source.
sys.path.append(str(Path(__file__).resolve().parents[3]))
from tests.helpers.servers.openai_server import serve

MODEL = "gpt-4o-mini"


@genai_trace.trace(span_type=genai_trace.SpanType.AGENT)
def ask(client: openai.OpenAI, question: str) -> str:
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": question}]
    )
    return reply.choices[0].message.content or ""


def main() -> int:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter])
    if genai_trace.autolog("openai") != ["openai"]:
        print("FAIL: autolog('openai') did not instrument openai", file=sys.stderr)
        return 1
    with serve() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0)
        ask(client, "what is a span")
    genai_trace.flush(10)
    traces = exporter.get_finished_traces()
    tree = [
        [(depth, span.name, str(span.span_type)) for span, depth in trace.walk()]
        for trace in traces
    ]
    print(tree)
    expected = [[(0, "ask", "AGENT"), (1, f"chat {MODEL}", "CHAT_MODEL")]]
    if tree != expected:
        print(f"FAIL: expected {expected}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
