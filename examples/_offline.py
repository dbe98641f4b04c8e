"""What the examples share: an OpenAI-compatible endpoint that also works offline.

With ``OPENAI_BASE_URL`` (and ``OPENAI_API_KEY``) set, the examples call that endpoint.
Without, they start the small OpenAI-compatible server of the tests
(``tests/helpers/servers/openai_server.py``) on 127.0.0.1, so ``python examples/<name>.py``
runs anywhere, with no key and no network.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import openai

import genai_trace
from genai_trace import Trace

MODEL = os.environ.get("OPENAI_MODEL", "gpt-4o-mini")
EMBEDDING_MODEL = os.environ.get("OPENAI_EMBEDDING_MODEL", "text-embedding-3-small")


@contextmanager
def local_llm() -> Iterator[str]:
    """Yield the OpenAI base URL to use, starting the local server when none is set."""
    if os.environ.get("OPENAI_BASE_URL"):
        yield os.environ["OPENAI_BASE_URL"]
        return
    # Appended: the genai_trace already imported (installed or not) stays the one used.
    sys.path.append(str(Path(__file__).resolve().parent.parent))  # for tests.helpers
    from tests.helpers.servers.openai_server import serve

    with serve(first_chunk_delay_s=0.05, chunk_delay_s=0.01) as server:
        os.environ["OPENAI_BASE_URL"] = server.base_url
        os.environ.setdefault("OPENAI_API_KEY", "offline")
        try:
            yield server.base_url
        finally:
            del os.environ["OPENAI_BASE_URL"]


@cache
def client() -> openai.OpenAI:
    """The app's OpenAI client, made at first use (inside ``local_llm``)."""
    return openai.OpenAI(max_retries=0)


@cache
def async_client() -> openai.AsyncOpenAI:
    """The app's async OpenAI client, made at first use (inside ``local_llm``)."""
    return openai.AsyncOpenAI(max_retries=0)


def print_trace(trace: Trace) -> None:
    """Print a trace's facts and its tree of spans."""
    info = trace.info
    print(f"trace {info.trace_id}  state={info.state}  spans={info.span_count}")
    print(f"request:  {info.request_preview}\nresponse: {info.response_preview}")
    print(f"tokens:   {info.token_usage}")
    for span, depth in trace.walk():
        extra = f" model={span.model}" if span.model else ""
        if span.token_usage:
            extra += f" tokens={span.token_usage.input_tokens}+{span.token_usage.output_tokens}"
        first = span.attributes.get("genai_trace.time_to_first_item_ms")
        if first is not None:
            extra += " first-token=yes"
        print(f"{'  ' * depth}- {span.name} [{span.span_type}]{extra}")


def last_trace() -> Trace:
    """The last trace completed in this process (flushing pending ones first)."""
    genai_trace.flush(10)
    trace = genai_trace.get_trace(genai_trace.get_last_trace_id() or "")
    assert trace is not None, "no trace was recorded"
    return trace
