"""``genai_trace.context(...)``: session, user, tags and metadata for every span inside a block.

The values live in the OpenTelemetry ``Context``, not a private contextvar, so they travel
wherever the OTel context does: into asyncio tasks, into threads and thread pools (see
``_threads``), and across ``inject``/``extract``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as context_api

from genai_trace import _semconv as sc
from genai_trace._capture import attribute_value, safe_repr, truncate_text

SCOPE_KEY = context_api.create_key("genai_trace.scope")

in_use = False
"""Set when the first scope with values is made; until then spans skip looking for one."""

Tags = Mapping[str, str] | Iterable[str]
"""Tags are key/value pairs; a plain string is a tag whose value is empty."""


def normalize_tags(tags: Tags | None) -> dict[str, str]:
    """Return tags as a ``dict[str, str]``; a bare string ``"x"`` becomes ``{"x": ""}``.

    Raises:
        TypeError: ``tags`` is a single string (a common slip for ``["tag"]``).
    """
    if tags is None:
        return {}
    if isinstance(tags, str):
        raise TypeError(f"tags must be a mapping or a list of strings, not the string {tags!r}")
    if isinstance(tags, Mapping):
        return {_tag_text(k): "" if v is None else _tag_text(v) for k, v in tags.items()}
    return {_tag_text(tag): "" for tag in tags}


def _tag_text(value: object) -> str:
    """A tag key or value as text, cut to the payload cap; an odd object never raises."""
    from genai_trace import _runtime  # the cap of the live configuration

    if isinstance(value, str):
        text = str.__str__(value)
    else:
        try:
            text = str(value)
        except Exception:
            text = safe_repr(value)
    return truncate_text(text, _runtime.max_payload_chars())


def tag_attributes(tags: Mapping[str, str]) -> dict[str, Any]:
    """Span attributes for tags: one exact attribute per tag, plus OpenInference's list."""
    attributes: dict[str, Any] = {sc.TAG_PREFIX + k: v for k, v in tags.items()}
    if tags:
        from genai_trace import _runtime  # the cap of the live configuration

        cap = _runtime.max_payload_chars()
        attributes[sc.TAG_TAGS] = [
            truncate_text(f"{k}={v}", cap) if v else k for k, v in tags.items()
        ]
    return attributes


class TraceScope:
    """Merged values of the enclosing ``context()`` blocks, and the span attributes for them."""

    __slots__ = ("attributes", "metadata", "session_id", "tags", "user_id")

    def __init__(
        self,
        session_id: str | None,
        user_id: str | None,
        tags: dict[str, str],
        metadata: dict[str, Any],
    ) -> None:
        self.session_id = session_id
        self.user_id = user_id
        self.tags = tags
        self.metadata = metadata
        attributes: dict[str, Any] = tag_attributes(tags)
        if session_id is not None:
            attributes[sc.SESSION_ID] = session_id
        if user_id is not None:
            attributes[sc.USER_ID] = user_id
        if metadata:
            from genai_trace import _runtime  # the cap of the live configuration

            attributes[sc.METADATA] = attribute_value(metadata, _runtime.max_payload_chars())
        self.attributes = attributes
        if attributes:
            global in_use
            in_use = True

    def merged(
        self,
        session_id: str | None,
        user_id: str | None,
        tags: dict[str, str],
        metadata: Mapping[str, Any] | None,
    ) -> TraceScope:
        """An inner scope: its values win, tags and metadata are merged key by key."""
        return TraceScope(
            session_id if session_id is not None else self.session_id,
            user_id if user_id is not None else self.user_id,
            {**self.tags, **tags},
            {**self.metadata, **(metadata or {})},
        )


_EMPTY = TraceScope(None, None, {}, {})


def current_scope() -> TraceScope | None:
    """The innermost active scope, or ``None``."""
    scope = context_api.get_value(SCOPE_KEY)
    return scope if isinstance(scope, TraceScope) else None


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

    Example:
        >>> with genai_trace.context(session_id="chat-42", user_id="ada", tags={"env": "prod"}):
        ...     answer("What is OTLP?")  # its trace carries session, user and the tag
    """
    if session_id is not None and not isinstance(session_id, str):
        raise TypeError(f"session_id must be a str, got {session_id!r}")
    if user_id is not None and not isinstance(user_id, str):
        raise TypeError(f"user_id must be a str, got {user_id!r}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a mapping, got {metadata!r}")
    scope = (current_scope() or _EMPTY).merged(session_id, user_id, normalize_tags(tags), metadata)
    token = context_api.attach(context_api.set_value(SCOPE_KEY, scope))
    try:
        yield
    finally:
        context_api.detach(token)
