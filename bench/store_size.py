"""Store bytes per trace, against the same traces as JSONL and gzipped JSONL; prune throughput.

Writes N traces of three spans (about 600 characters of payload each, the issue-20 shape)
from a real traced app into a fresh store, then measures:

- the store's bytes per trace (file after a checkpoint, and the pages in use);
- the same traces as ``genai-trace export`` JSONL, and that gzipped;
- per-row compression of the span ``data`` column: zlib at levels 1/6/9, and zstandard
  (level 3, and with a dictionary trained on the first rows) when importable;
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
import zlib
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


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "traces.db"
        fill(db, n)
        with sqlite3.connect(db) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            stored = [r[0] for r in connection.execute("SELECT data FROM spans")]
            rows = [_text(r) for r in stored]
            (tables,) = connection.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name IN ('traces', 'spans', 'trace_tags')"
            ).fetchone()
            infos = [r[0] for r in connection.execute("SELECT info FROM traces")]
        connection.close()
        store_bytes = db.stat().st_size
        jsonl = io.BytesIO()
        for trace in SQLiteTraceStore(db).search_with_seq(TraceQuery(limit=n)):
            full = SQLiteTraceStore(db).get(trace[1].trace_id)
            assert full is not None
            jsonl.write(dumps(full.to_dict(), default=repr).encode() + b"\n")
        raw = jsonl.getvalue()
        gz = gzip.compress(raw)
        print(f"traces: {n}")
        print(f"store file: {store_bytes / n:,.0f} B/trace ({store_bytes / 1e6:.1f} MB)")
        print(f"JSONL: {len(raw) / n:,.0f} B/trace; gzipped: {len(gz) / n:,.0f} B/trace")
        span_bytes = sum(len(r.encode()) for r in rows)
        stored_bytes = sum(len(r) for r in stored)
        print(
            f"span data as stored: {stored_bytes / n:,.0f} B/trace; tables without indexes: "
            f"{tables / n:,.0f} B/trace; indexes: {(store_bytes - tables) / n:,.0f} B/trace"
        )
        info_bytes = sum(len(r.encode()) for r in infos)
        print(
            f"span data column: {span_bytes / n:,.0f} B/trace; info column: {info_bytes / n:,.0f}"
        )
        for level in (1, 6, 9):
            start = time.perf_counter()
            packed = [zlib.compress(r.encode(), level) for r in rows]
            took = time.perf_counter() - start
            size = sum(map(len, packed))
            start = time.perf_counter()
            for p in packed:
                zlib.decompress(p)
            back = time.perf_counter() - start
            print(
                f"  zlib {level}: {size / n:,.0f} B/trace of span data, "
                f"{took / len(rows) * 1e6:.1f} us/row in, {back / len(rows) * 1e6:.1f} us/row out"
            )
        try:
            import zstandard
        except ImportError:
            print("  zstandard: not importable")
        else:
            _zstd(zstandard, rows, n)
        start = time.perf_counter()
        report = prune_store(db, Retention(0, 0, n // 10), vacuum=False, timeout_s=10)
        took = time.perf_counter() - start
        print(f"prune: {report.removed} traces in {took:.2f}s = {report.removed / took:,.0f}/s")


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode()


def _zstd(zstandard: object, rows: list[str], n: int) -> None:
    zstd: object = zstandard
    data = [r.encode() for r in rows]
    plain = zstd.ZstdCompressor(level=3)  # type: ignore[attr-defined]
    size = sum(len(plain.compress(d)) for d in data)
    print(f"  zstd 3: {size / n:,.0f} B/trace of span data")
    trained = zstd.train_dictionary(16384, data[:3000])  # type: ignore[attr-defined]
    with_dict = zstd.ZstdCompressor(level=3, dict_data=trained)  # type: ignore[attr-defined]
    start = time.perf_counter()
    size = sum(len(with_dict.compress(d)) for d in data)
    took = time.perf_counter() - start
    print(
        f"  zstd 3 + 16 KB dictionary: {size / n:,.0f} B/trace of span data, "
        f"{took / len(data) * 1e6:.1f} us/row in"
    )


if __name__ == "__main__":
    main()
