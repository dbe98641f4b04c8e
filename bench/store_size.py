"""Store bytes per trace, against the same traces as JSONL and gzipped JSONL; prune throughput.

Writes N traces of three spans (about 600 characters of payload each, the issue-20 shape)
from a real traced app into a fresh store, then measures:

- the store's bytes per trace (file after a checkpoint, and the pages in use);
- the same traces as ``genai-trace export`` JSONL, and that gzipped;
- prune throughput: traces deleted per second by ``genai-trace prune --max-traces``.

    python -m bench.store_size [N]        # default 5000
"""

from __future__ import annotations

import gzip
import io
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import genai_trace
from genai_trace._semantics.codec import dumps
from genai_trace.store.reader import TraceQuery
from genai_trace.store.retention import Retention, prune_store
from genai_trace.store.writer import SQLiteTraceStore

_RANDOM = random.Random(20)
_VOCABULARY = [
    "".join(_RANDOM.choice("etaoinshrdlucmfwypvbgkjqxz") for _ in range(_RANDOM.randint(2, 9)))
    for _ in range(3000)
]


def text(chars: int) -> str:
    """Prose-like text: words of a 3,000-word vocabulary, drawn at random (gzip: about 2.5x)."""
    words: list[str] = []
    while sum(map(len, words)) + len(words) < chars:
        words.append(_RANDOM.choice(_VOCABULARY))
    return " ".join(words)[:chars]


@genai_trace.trace(span_type="RETRIEVER")
def retrieve(question: str, i: int) -> list[str]:
    return [text(150), text(150)]


@genai_trace.trace(span_type="LLM")
def generate(question: str, docs: list[str]) -> str:
    return text(300)


@genai_trace.trace
def answer(question: str) -> str:
    return generate(question, retrieve(question, len(question)))


def fill(db: Path, n: int) -> float:
    genai_trace.configure(exporters=[SQLiteTraceStore(db, retention=None)])
    start = time.perf_counter()
    for _ in range(n):
        answer(text(100))
    assert genai_trace.flush(120)
    genai_trace.shutdown()
    return time.perf_counter() - start


def measure(n: int) -> dict[str, float]:
    """Bytes per trace of the store, by table, against JSONL and gzipped JSONL; prune speed."""
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "traces.db"
        fill(db, n)
        with sqlite3.connect(db) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            tables = dict(connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
        connection.close()
        store = SQLiteTraceStore(db)
        jsonl = io.BytesIO()
        for info in store.search(TraceQuery(limit=n)):
            full = store.get(info.trace_id)
            assert full is not None
            jsonl.write(dumps(full.to_dict(), default=repr).encode() + b"\n")
        raw = jsonl.getvalue()
        result = {
            "traces": n,
            "store_bytes": db.stat().st_size / n,
            "spans_bytes": tables.get("trace_spans", 0) / n,
            "trace_rows_bytes": tables.get("traces", 0) / n,
            "jsonl_bytes": len(raw) / n,
            "jsonl_gz_bytes": len(gzip.compress(raw)) / n,
        }
        start = time.perf_counter()
        report = prune_store(db, Retention(0, 0, n // 10), vacuum=False, timeout_s=10)
        result["prune_per_s"] = report.removed / (time.perf_counter() - start)
    return result


def render(result: dict[str, float]) -> str:
    ratio = result["store_bytes"] / result["jsonl_gz_bytes"]
    return "\n".join(
        [
            f"{result['traces']:,.0f} traces of three spans, about 600 characters of payload each",
            "| measure | per trace |",
            "|---|---|",
            f"| store file | {result['store_bytes']:,.0f} B ({ratio:.2f}x the gzipped JSONL) |",
            f"| of which spans (packed) | {result['spans_bytes']:,.0f} B |",
            f"| of which trace rows (plain search columns) | {result['trace_rows_bytes']:,.0f} B |",
            f"| JSONL (`genai-trace export`) | {result['jsonl_bytes']:,.0f} B |",
            f"| JSONL gzipped | {result['jsonl_gz_bytes']:,.0f} B |",
            f"| prune (`genai-trace prune --max-traces`) | {result['prune_per_s']:,.0f} traces/s |",
        ]
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    print(render(measure(n)))


if __name__ == "__main__":
    main()
