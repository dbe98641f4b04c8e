"""Reads of a large store: list, show, search, filters and the viewer's pages, timed.

``python bench/store_reads.py [TRACES]`` (default 100,000) writes that many three-span
traces (about 600 characters of payload each, as ``bench/store_size.py``) straight through
the store's exporter, then times each read the CLI and the viewer make, best of five, in
milliseconds. Run it with another checkout's package first on ``PYTHONPATH`` to compare two
store layouts on the same machine: it uses only APIs every release has.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genai_trace._semantics.model import trace_from_dict
from genai_trace.store.reader import TraceQuery
from genai_trace.store.writer import SQLiteTraceStore

_RANDOM = random.Random(20)
_WORDS = [
    "".join(_RANDOM.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(6)) for _ in range(3000)
]


def text(chars: int) -> str:
    return " ".join(_RANDOM.choice(_WORDS) for _ in range(chars // 7 + 1))[:chars]


def trace(i: int) -> Any:
    trace_id = f"{i + 1:032x}"
    root = f"{i + 1:016x}"
    question, docs, answer = text(100), [text(150), text(150)], text(300)
    start = 1_700_000_000_000_000_000 + i * 1_000_000

    def span(k: int, name: str, kind: str, inputs: Any, outputs: Any) -> dict[str, Any]:
        return {
            "trace_id": trace_id,
            "span_id": root if k == 0 else f"{i + 1:012x}{k:04x}",
            "parent_id": None if k == 0 else root,
            "name": name,
            "span_type": kind,
            "start_time_ns": start + k,
            "end_time_ns": start + 1000,
            "status": "ERROR" if i % 50 == 0 and k == 0 else "OK",
            "status_message": "boom" if i % 50 == 0 and k == 0 else None,
            "inputs": inputs,
            "outputs": outputs,
            "attributes": {"input.value": str(inputs), "output.value": str(outputs)},
        }

    spans = [
        span(0, "answer", "CHAIN", {"question": question}, answer),
        span(1, "retrieve", "RETRIEVER", {"question": question}, docs),
        span(2, "generate", "LLM", {"question": question, "docs": docs}, answer),
    ]
    info = {
        "trace_id": trace_id,
        "name": "answer",
        "state": "ERROR" if i % 50 == 0 else "OK",
        "start_time_ns": start,
        "end_time_ns": start + 1000,
        "request_preview": question,
        "response_preview": answer,
        "span_count": 3,
        "session_id": f"s-{i % 500}",
        "user_id": f"u-{i % 37}",
        "tags": {"env": "prod"} if i % 3 == 0 else {},
    }
    return trace_from_dict({"info": info, "spans": spans})


def best_ms(action: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "traces.db"
        store = SQLiteTraceStore(db, retention=None)
        for start in range(0, n, 2000):
            store.export([trace(i) for i in range(start, min(n, start + 2000))])
        store.shutdown()
        reader = SQLiteTraceStore(db)
        ids = [f"{i + 1:032x}" for i in random.Random(1).sample(range(n), 200)]
        word = _WORDS[7]
        rows = {
            "list 50 newest (`list`)": lambda: reader.search(TraceQuery(limit=50)),
            "show 200 traces (`show`, `get_trace`)": lambda: [reader.get(i) for i in ids],
            "text search, 50 hits (`list --text`)": lambda: reader.search(
                TraceQuery(text=word, limit=50)
            ),
            "span-type filter (`--span-type LLM`)": lambda: reader.search(
                TraceQuery(span_type="LLM", limit=50)
            ),
            "ERROR traces (`--state ERROR`)": lambda: reader.search(
                TraceQuery(state="ERROR", limit=50)
            ),
            "a session's traces": lambda: reader.search(TraceQuery(session_id="s-7", limit=50)),
            "viewer: first page (with total)": lambda: reader.page(TraceQuery(), 50, None),
            "viewer: first page of ERROR traces": lambda: reader.page(
                TraceQuery(state="ERROR"), 50, None
            ),
            "stats": reader.stats,
        }
        print(f"{n:,} traces; best of 5, ms")
        print("| read | ms |\n|---|---:|")
        for name, action in rows.items():
            print(f"| {name} | {best_ms(action):,.1f} |")
        print(f"| (file size, MB) | {statistics.fmean([db.stat().st_size]) / 1e6:,.1f} |")


if __name__ == "__main__":
    main()
