"""Write a small store with this release's schema, and the traces it holds, as a test fixture.

A store written today must open, migrate and read back exactly under every later release
(tests/store/test_store_versions.py). Run this once per schema version, when that version
is the newest, and commit both files; never regenerate an old version's fixture:

    python scripts/make_store_fixture.py   # writes tests/store/fixtures/store_v<N>.{db,json}
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import genai_trace  # noqa: E402  (after the path, from this checkout)
from genai_trace import SpanType  # noqa: E402
from genai_trace.exporters.memory import InMemoryTraceExporter  # noqa: E402
from genai_trace.store.schema import SCHEMA_VERSION  # noqa: E402
from genai_trace.store.writer import SQLiteTraceStore  # noqa: E402

FIXTURES = ROOT / "tests" / "store" / "fixtures"


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def retrieve(q: str) -> list[str]:
    """A retriever span with non-ASCII text."""
    return [f"doc:{q}", "dóc ünïcode ✓"]


@genai_trace.trace(span_type=SpanType.LLM)
def generate(q: str, docs: list[str]) -> dict[str, object]:
    """An LLM span with token usage, or an error."""
    if q == "fail":
        raise RuntimeError("model overloaded")
    return {
        "choices": [{"message": {"role": "assistant", "content": f"answer:{q}"}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": len(q)},
    }


@genai_trace.trace
def rag(q: str) -> object:
    """The root: tags and metadata on the trace."""
    genai_trace.update_current_trace(tags={"q": q}, metadata={"n": len(q)})
    return generate(q, retrieve(q))


def traced_app() -> None:
    """Every kind of row today's schema holds: tags, sessions, users, tokens, an error."""
    with genai_trace.context(session_id="s-1", user_id="ada"):
        rag("alpha")
        rag("beta")
    with genai_trace.context(session_id="s-2", user_id="bob", tags={"env": "prod"}):
        try:
            rag("fail")
        except RuntimeError:
            pass
    with genai_trace.start_span("plain", span_type=SpanType.TOOL, inputs="hello 100%_done"):
        pass


def main() -> None:
    """Trace the app into a fresh store and a memory exporter; keep both as fixtures."""
    memory = InMemoryTraceExporter()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "traces.db"
        store = SQLiteTraceStore(db)
        genai_trace.configure(
            exporters=[store, memory],
            exit_flush_timeout_s=5,
            # The fixture is committed: stack traces name files relative to the checkout.
            redact=lambda key, text: text.replace(str(ROOT) + "/", ""),
        )
        traced_app()
        assert genai_trace.flush(10)
        genai_trace.shutdown()
        with sqlite3.connect(db) as connection:  # everything in the one file, no WAL beside
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        FIXTURES.mkdir(parents=True, exist_ok=True)
        target = FIXTURES / f"store_v{SCHEMA_VERSION}.db"
        target.write_bytes(db.read_bytes())
    traces = [trace.to_dict() for trace in memory.get_finished_traces()]
    expected = FIXTURES / f"store_v{SCHEMA_VERSION}.json"
    expected.write_text(json.dumps(traces, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {target} ({target.stat().st_size} bytes) and {expected}")


if __name__ == "__main__":
    main()
