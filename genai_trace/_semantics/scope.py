"""The values of ``genai_trace.context(...)`` (in ``_api/context``): session, user, tags, metadata.

The values live in the OpenTelemetry ``Context``, not a private contextvar, so they travel
wherever the OTel context does: into asyncio tasks, into threads and thread pools (see
``_runtime.threads``), and across ``inject``/``extract``. ``context()`` itself is API
(``_api.context``); here are the pure values and their span attributes. Every function that
cuts text takes the payload cap as an argument. Layer: ``_semantics``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as context_api

from genai_trace._errors import warn_misuse
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import attribute_value, clean_text, safe_repr, truncate_text
from genai_trace._semantics.redaction import Redactor

SCOPE_KEY = context_api.create_key("genai_trace.scope")

Tags = Mapping[str, str] | Iterable[str]
"""Tags are key/value pairs; a plain string is a tag whose value is empty."""


def normalize_tags(tags: Tags | None, cap: int) -> dict[str, str]:
    """Return tags as a ``dict[str, str]``; a bare string ``"x"`` becomes ``{"x": ""}``.

    Each key and value is cut to ``cap`` characters.

    Raises:
        TypeError: ``tags`` is a single string (a common slip for ``["tag"]``).
    """
    if tags is None:
        return {}
    if isinstance(tags, str):
        raise TypeError(f"tags must be a mapping or a list of strings, not the string {tags!r}")
    if isinstance(tags, Mapping):
        return {_tag_text(k, cap): "" if v is None else _tag_text(v, cap) for k, v in tags.items()}
    return {_tag_text(tag, cap): "" for tag in tags}


def lenient_id(call: str, value: object) -> str | None:
    """An id for the fluent API: a str as is, an int or UUID as its text, else dropped.

    ``call`` names the call and argument for the warning, e.g. ``context(user_id=...)``.
    """
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)  # a str subclass (a str enum) as the plain text
    if isinstance(value, (int, uuid.UUID)) and not isinstance(value, bool):
        return str(value)
    warn_misuse(call, "a str (an int or UUID is converted)", value, "the value is dropped")
    return None


def lenient_tags(call: str, tags: object, cap: int) -> dict[str, str]:
    """Tags for the fluent API: a bare string is one tag; a value of another shape is dropped."""
    if isinstance(tags, str):
        return normalize_tags([tags], cap)
    if isinstance(tags, (bytes, bytearray)):
        warn_misuse(call, "a mapping or a list of strings", tags, "the tags are dropped")
        return {}
    try:
        return normalize_tags(tags, cap)  # type: ignore[arg-type]  # checked by its own failure
    except Exception:  # not iterable, or an iterable that fails as it is read
        warn_misuse(call, "a mapping or a list of strings", tags, "the tags are dropped")
        return {}


def lenient_metadata(call: str, metadata: object) -> Mapping[str, Any] | None:
    """Metadata for the fluent API: a mapping, else dropped with a warning."""
    if metadata is None or isinstance(metadata, Mapping):
        return metadata
    warn_misuse(call, "a mapping", metadata, "the metadata is dropped")
    return None


def _tag_text(value: object, cap: int) -> str:
    """A tag key or value as text, cut to ``cap``; an odd object never raises."""
    if isinstance(value, str):
        text = clean_text(str.__str__(value))
    else:
        try:
            text = str(value)
        except Exception:
            text = safe_repr(value)
    return truncate_text(text, cap)


def tag_attributes(tags: Mapping[str, str], cap: int) -> dict[str, Any]:
    """Span attributes for tags: one exact attribute per tag, plus OpenInference's list."""
    attributes: dict[str, Any] = {sc.TAG_PREFIX + k: v for k, v in tags.items()}
    if tags:
        attributes[sc.TAG_TAGS] = [
            truncate_text(f"{k}={v}", cap) if v else k for k, v in tags.items()
        ]
    return attributes


class TraceScope:
    """Merged values of the enclosing ``context()`` blocks, and the span attributes for them.

    ``cap`` and ``redactor`` (the configuration's) shape the metadata attribute.
    """

    __slots__ = ("attributes", "metadata", "session_id", "tags", "user_id")

    def __init__(
        self,
        session_id: str | None,
        user_id: str | None,
        tags: dict[str, str],
        metadata: dict[str, Any],
        *,
        cap: int,
        redactor: Redactor | None,
    ) -> None:
        session_id = None if session_id is None else clean_text(session_id)
        user_id = None if user_id is None else clean_text(user_id)
        self.session_id = session_id
        self.user_id = user_id
        self.tags = tags
        self.metadata = metadata
        attributes: dict[str, Any] = tag_attributes(tags, cap)
        if session_id is not None:
            attributes[sc.SESSION_ID] = session_id
        if user_id is not None:
            attributes[sc.USER_ID] = user_id
        if metadata:
            attributes[sc.METADATA] = attribute_value(metadata, cap, redactor=redactor)
        self.attributes = attributes

    def merged(
        self,
        session_id: str | None,
        user_id: str | None,
        tags: dict[str, str],
        metadata: Mapping[str, Any] | None,
        *,
        cap: int,
        redactor: Redactor | None,
    ) -> TraceScope:
        """An inner scope: its values win, tags and metadata are merged key by key."""
        return TraceScope(
            session_id if session_id is not None else self.session_id,
            user_id if user_id is not None else self.user_id,
            {**self.tags, **tags},
            {**self.metadata, **(metadata or {})},
            cap=cap,
            redactor=redactor,
        )


EMPTY_SCOPE = TraceScope(None, None, {}, {}, cap=0, redactor=None)  # nothing to cut or redact


def current_scope() -> TraceScope | None:
    """The innermost active scope, or ``None``."""
    scope = context_api.get_value(SCOPE_KEY)
    return scope if isinstance(scope, TraceScope) else None
