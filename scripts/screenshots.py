"""Screenshots of the trace viewer for the README and the docs, from a store filled by real code.

Run: .venv/bin/python scripts/screenshots.py  (needs Chromium: bash scripts/setup_browser.sh)

Runs the examples (offline, against the local OpenAI-compatible server) and a small support
bot with sessions, tags and a failing call, all into one fresh store; serves it with
``genai_trace.ui.start_server``; and saves docs/images/traces-page.png and
docs/images/trace-view.png from headless Chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import genai_trace
from genai_trace import SpanType
from genai_trace.store import SQLiteTraceStore, TraceQuery
from genai_trace.ui import start_server

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
EXAMPLES = ["quickstart", "client_workflow", "rag_pipeline", "streaming_chat"]
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

ARTICLES = {
    "refund": "Refunds are issued to the original payment method within 5 business days.",
    "invoice": "Invoices are under Settings > Billing; each one can be downloaded as PDF.",
    "password": "Reset a password from the sign-in page with 'Forgot password'.",
}


class RateLimitError(Exception):
    """What a provider raises when it throttles."""


@genai_trace.trace(span_type=SpanType.GUARDRAIL)
def moderate(text: str) -> dict[str, object]:
    """A content check before anything else runs."""
    time.sleep(0.004)
    return {"flagged": False, "categories": []}


@genai_trace.trace(span_type=SpanType.RETRIEVER)
def search_kb(query: str, top_k: int = 2) -> list[dict[str, object]]:
    """The help-center articles that best match ``query``."""
    time.sleep(0.018)
    hits = [{"id": key, "text": text, "score": 0.91} for key, text in ARTICLES.items()]
    hits.sort(key=lambda hit: str(hit["id"]) not in query.lower())
    return hits[:top_k]


@genai_trace.trace(span_type=SpanType.LLM)
def complete(messages: list[dict[str, str]], model: str = "gpt-4o-mini") -> dict[str, object]:
    """A stand-in chat completion (OpenAI-shaped, with usage); throttles on escalations."""
    time.sleep(0.045)
    question = messages[-1]["content"]
    if "escalate" in question:
        raise RateLimitError("429 Too Many Requests: rate limit reached for gpt-4o-mini")
    answer = messages[0]["content"].split(": ", 1)[-1].split(" | ")[0]
    return {
        "choices": [{"message": {"role": "assistant", "content": answer}}],
        "usage": {"prompt_tokens": 38 + len(question) // 4, "completion_tokens": len(answer) // 4},
    }


@genai_trace.trace(span_type=SpanType.AGENT)
def support_bot(question: str) -> str:
    """Moderate, retrieve, answer: one trace per question."""
    moderate(question)
    docs = search_kb(question)
    context = " | ".join(str(doc["text"]) for doc in docs)
    reply = complete(
        [
            {"role": "system", "content": f"Answer from the help center: {context}"},
            {"role": "user", "content": question},
        ]
    )
    choices = reply["choices"]
    assert isinstance(choices, list)
    return str(choices[0]["message"]["content"])


def fill(db: Path) -> None:
    """The examples, then support conversations, into ``db``."""
    env = {**os.environ, "GENAI_TRACE_DB": str(db)}
    env.pop("OPENAI_BASE_URL", None)
    for name in EXAMPLES:
        subprocess.run([sys.executable, f"examples/{name}.py"], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=120)  # fmt: skip
    store = SQLiteTraceStore(db)
    genai_trace.configure(exporters=[store])
    conversations = [
        ("chat-7f3a", "maria", ["How do I get a refund?", "Where is my invoice?"]),
        ("chat-91c2", "li", ["I forgot my password", "Please escalate to a human"]),
        ("chat-7f3a", "maria", ["Thanks! And the refund timing?"]),
    ]
    for session, user, questions in conversations:
        with genai_trace.context(
            session_id=session, user_id=user, tags={"app": "support", "env": "prod"}
        ):
            for question in questions:
                try:
                    support_bot(question)
                except RateLimitError:
                    pass
    assert genai_trace.flush(10)
    store.shutdown()
    subprocess.run([sys.executable, "examples/agent_tools.py"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=120)  # fmt: skip


def shoot(db: Path) -> None:
    """Save the Traces page and the newest agent trace (its final chat span selected)."""
    from playwright.sync_api import expect, sync_playwright

    store = SQLiteTraceStore(db)
    (agent,) = store.search(TraceQuery(name="travel_agent", limit=1))
    trace = store.get(agent.trace_id)
    assert trace is not None
    chats = [s for s in trace.spans if s.span_type == "CHAT_MODEL"]
    final = max(chats, key=lambda s: s.start_time_ns)
    viewer = start_server(db)
    IMAGES.mkdir(parents=True, exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": 1440, "height": 820})
            page.goto(viewer.url)
            expect(page.locator("tr[data-trace-id]")).to_have_count(len(store.search()))
            page.locator("tr[data-trace-id]").nth(2).hover()
            page.screenshot(
                path=str(IMAGES / "traces-page.png"),
                clip={"x": 0, "y": 0, "width": 1440, "height": 560},
            )
            page.goto(f"{viewer.url}#/trace/{agent.trace_id}/span/{final.span_id}")
            expect(page.locator("#span-detail .span-name")).to_have_text(final.name)
            page.mouse.move(0, 0)
            page.screenshot(path=str(IMAGES / "trace-view.png"))
            browser.close()
    finally:
        viewer.stop()


def main() -> None:
    """Fill a fresh store and save both screenshots."""
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the store at its default place, as a user sees it
        db = Path(".genai_trace") / "traces.db"
        fill(Path(folder) / db)
        shoot(db)
        os.chdir(ROOT)
    for name in ("traces-page.png", "trace-view.png"):
        print(IMAGES / name, (IMAGES / name).stat().st_size // 1024, "KB")


if __name__ == "__main__":
    main()
