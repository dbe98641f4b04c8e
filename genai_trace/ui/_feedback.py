"""Thumbs up or down and a short comment from the viewer: the one write it may make.

Off unless ``genai-trace ui --allow-feedback``: the viewer stays read-only by default. When on,
``POST /api/traces/<id>/feedback`` records a ``thumbs`` feedback through the store's own
feedback path (:meth:`~genai_trace.store.writer.SQLiteTraceStore.export_feedback`: the same
table, the same once-only key). A request must carry the page's CSRF token (handed out by
``/api/config`` to same-origin pages only), JSON, and a ``Host`` (and ``Origin``, when sent)
naming this server: a foreign page can neither read the token nor send JSON cross-origin
without a preflight this server never grants, and DNS rebinding fails the host check.

Layer: ``ui``; imports ``store`` and ``_semantics``.
"""

from __future__ import annotations

import getpass
import hmac
import json
import secrets
import threading
from pathlib import Path
from typing import Any

from genai_trace._semantics.feedback import (
    FEEDBACK,
    Feedback,
    FeedbackDelivery,
    Source,
    make_feedback,
)
from genai_trace._semantics.redaction import Redactor
from genai_trace.store.writer import SQLiteTraceStore
from genai_trace.ui._params import BadRequestError

MAX_BODY_BYTES = 8_192
MAX_COMMENT_CHARS = 1_000
NAME = "thumbs"
"""The feedback's name: what the viewer's buttons record."""


class ViewerFeedback:
    """Writes the viewer's feedback into the store at ``path``; holds the CSRF token."""

    def __init__(self, path: Path) -> None:
        self.token = secrets.token_urlsafe(32)
        self.source = Source.human(_who())
        self._store = SQLiteTraceStore(path, retention=None, feedback_wait_s=0)
        self._lock = threading.Lock()  # one write at a time from the server's threads

    def check(self, headers: Any, allowed_hosts: set[str]) -> None:
        """Refuse a request that is not the viewer's own page (403) or not JSON (415)."""
        host = headers.get("Host")
        if host is None or host not in allowed_hosts:
            raise BadRequestError("feedback refused: unexpected Host header", 403)
        origin = headers.get("Origin")
        if origin is not None and origin != f"http://{host}":
            raise BadRequestError("feedback refused: a request from another site", 403)
        token = headers.get("X-CSRF-Token") or ""
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            raise BadRequestError("feedback refused: missing or wrong CSRF token; reload", 403)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise BadRequestError("feedback must be sent as application/json", 415)

    def record(self, trace_id: str, body: bytes) -> Feedback:
        """Store a ``thumbs`` feedback on the stored trace ``trace_id`` from a JSON body."""
        value, comment = _parse(body)
        if comment is not None:  # the built-in rules, as on spans: no key pasted in stays
            comment = Redactor().text(comment)
        feedback = make_feedback(
            trace_id,
            NAME,
            value,
            kind=FEEDBACK,
            span_id=None,
            rationale=comment,
            source=self.source,
            metadata={"via": "genai-trace ui"},
        )
        with self._lock:
            before = self._store.feedback.stored
            self._store.export_feedback([FeedbackDelivery(feedback, trace_id, None)])
            stored = self._store.feedback.stored - before
            self._store.feedback.lose_all()  # the trace was read just before: never waits
        if stored != 1:
            raise BadRequestError(f"could not store the feedback on {trace_id[:100]!r}", 503)
        return feedback

    def close(self) -> None:
        """Close the store's writer connection."""
        self._store.shutdown()


def _parse(body: bytes) -> tuple[bool, str | None]:
    try:
        data = json.loads(body)
    except ValueError:
        raise BadRequestError("the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("value"), bool):
        raise BadRequestError('send {"value": true or false, "comment": "..."}')
    comment = data.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise BadRequestError("comment must be text")
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise BadRequestError(f"a comment is at most {MAX_COMMENT_CHARS} characters")
    return data["value"], comment or None


def _who() -> str:
    try:
        return getpass.getuser() or "viewer"
    except Exception:  # no user name on this system (a container without passwd)
        return "viewer"
