"""``genai_trace.context(...)``: session, user, tags and metadata for every span in a block.

The values (a :class:`~genai_trace._semantics.scope.TraceScope`) live in the OpenTelemetry
``Context``, so they travel wherever it does: into asyncio tasks, threads, and across
``inject``/``extract``. The assembler reads them as spans start. This is the call on the
app's thread: it reads the live configuration (cap, redactor) and tells the assembler that
scopes are in use.

Layer: ``_api``; imports ``_semantics`` (the scope's values and the lenient coercions) and
the live state.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as context_api

from genai_trace._runtime.live import live
from genai_trace._semantics.scope import (
    EMPTY_SCOPE,
    SCOPE_KEY,
    Tags,
    current_scope,
    lenient_id,
    lenient_metadata,
    lenient_tags,
)


@contextmanager
def context(
    *,
    session_id: str | None = None,
    user_id: str | None = None,
    tags: Tags | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Iterator[None]:
    """Apply a session, user, tags and metadata to every span started inside the block.

    Nested blocks merge: inner values win, tags and metadata are combined. The values follow
    the OTel context into asyncio tasks and threads.

    Never raises: an int or UUID id is converted to its text, a bare string of tags is one
    tag, and a value of another type is dropped with a warning on the ``genai_trace`` logger.

    Example:
        >>> with genai_trace.context(session_id="chat-42", user_id="ada", tags={"env": "prod"}):
        ...     answer("What is OTLP?")  # its trace carries session, user and the tag
    """
    scope = (current_scope() or EMPTY_SCOPE).merged(
        lenient_id("context(session_id=...)", session_id),
        lenient_id("context(user_id=...)", user_id),
        lenient_tags("context(tags=...)", tags, live.payload_cap),
        lenient_metadata("context(metadata=...)", metadata),
        cap=live.payload_cap,
        redactor=live.redactor,
    )
    if scope.attributes:
        live.scope_in_use = True
    token = context_api.attach(context_api.set_value(SCOPE_KEY, scope))
    try:
        yield
    finally:
        context_api.detach(token)
