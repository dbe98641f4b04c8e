"""Redaction: no exporter, ours or the app's, ever sees a secret.

On by default. Built-in rules by key (``api_key``, ``password``, ``authorization``...) and by
value (OpenAI-style and other API keys, bearer tokens, JWTs, private keys, card numbers),
plus an optional user callable. A callable that raises fails closed: the value is replaced.

Values are redacted as they are recorded, except the inputs and outputs of genai-trace's own
spans while its assembler is the provider's only processor: those wait for the export
(``_capture.WaitingText``, redacted as the trace is built), since nothing else can read
them.

The common case must stay cheap: a few C-speed scans over the serialized text decide
whether anything needs a closer look.

Pure: no state of its own. The redactor in force lives in the runtime's live state
(``_runtime.live``) and is passed to whoever redacts. Layer: ``_semantics`` (imports only
``_errors`` and ``_semantics``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.util import BoundedList

from genai_trace._errors import log_internal_error
from genai_trace._semantics import semconv as sc

REDACTED = "[REDACTED]"
MAX_DEPTH = 256
"""Deeper structures are replaced whole (JSON from our encoders never nests deeper)."""
REDACTOR_FAILED = "[REDACTED: the redactor raised]"

UserRedactor = Callable[[str | None, str], str]
"""``redact(key, value) -> value``: called with each string and the key it sits under."""

# Keys are compared without case or separators: "API-Key", "api_key" and "apiKey" alike.
_SECRET_KEYS = frozenset(
    {
        "apikey", "xapikey", "apitoken", "auth", "authorization", "bearer", "clientsecret",
        "cookie", "credential", "credentials", "jwt", "passphrase", "passwd", "password",
        "privatekey", "pwd", "secret", "secretkey", "setcookie", "token", "accesskey",
    }
)  # fmt: skip
# ...and any key ending so: "openai_api_key", "db_password", "github_token". Not "tokens"
# or "token_count" (counts), nor "session_id" (an id, not a secret).
_SECRET_SUFFIXES = (
    "apikey", "password", "passwd", "secret", "token", "privatekey", "accesskey",
    "secretkey", "credentials", "cookie", "authorization",
)  # fmt: skip

# A first look at lower-cased JSON text for a key that may be secret: every secret key ends
# in one of these, right before the '":' that closes it.
_KEY_ENDINGS = (
    "password", "passwd", "pwd", "secret", "token", "key", "authorization", "auth",
    "cookie", "credential", "credentials", "passphrase", "jwt", "bearer",
)  # fmt: skip
# Matched in the reversed text, where the pattern starts with a literal: the regex engine
# skips to each ':"' at C speed instead of trying the endings at every character.
_REVERSED_KEY_END = re.compile(':"(?:' + "|".join(e[::-1] for e in _KEY_ENDINGS) + ")")
# A first look for a value that may be secret, at C speed over the text's UTF-8 bytes (a
# regex scan costs ~10 ns a character; a byte translation and a substring test, ~1). Every
# API key and JWT rule below matches an unbroken run of 15+ such characters holding a
# telltale prefix; every card starts with four digits in a row.
_RUN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+/=.-"
_SHORTEST_RUN = 15  # Slack's xoxb- and ten characters; every other rule needs 20 or more
_SECRET_PREFIX = re.compile(
    rb"(?:sk|rk|pk)[-_]|AKIA|ASIA|gh[pousr]_|github_pat_|AIza|xox[abprs]-|hf_|eyJ"
)
# Every prefix above holds one of these pairs of neighbours: a letter of the first set
# followed by a separator ("sk-", "hf_", "ghp_", "b_" of "github_", "xoxb-"), or an "A" or
# "y" followed by one of "KSIJ" ("AKIA", "ASIA", "AIza", "eyJ").
_BEFORE_SEPARATOR, _SEPARATORS = b"kpousrbaf", b"-_"
_BEFORE_CAPITAL, _CAPITALS = b"Ay", b"KSIJ"
# Each byte to flag bits. A byte's bit 0 (3) with the next byte's bit 1 (4) marks a pair;
# no other two neighbours' bits line up so, but bit 4 with a digit's 5, which only adds
# pairs. A digit is 0x20 alone, a byte outside runs 0x80 alone: one translation serves
# the look for four digits, for pairs, and for the runs around them.
_DIGIT, _OUTSIDE_RUNS = 0x20, 0x80
_FLAGS = bytes(
    _DIGIT if byte in b"0123456789"
    else _OUTSIDE_RUNS if byte not in _RUN_BYTES
    else (byte in _BEFORE_SEPARATOR) | (byte in _SEPARATORS) << 1
    | (byte in _BEFORE_CAPITAL) << 3 | (byte in _CAPITALS) << 4
    for byte in range(256)
)  # fmt: skip
_FOUR_DIGITS = bytes([_DIGIT]) * 4
_RUN_END = bytes([_OUTSIDE_RUNS])
_ANY_BITS = bytes(min(byte, 1) for byte in range(256))
_CARD_LIKE = re.compile(r"\d{4}(?:[ -]?\d){9}", re.ASCII)  # the shortest card: 13 digits
# Digits to "d", the separators a card may have to "s", anything else to "x".
_CARD_CLASSES = bytes(
    ord("d") if byte in b"0123456789" else ord("s") if byte in b" -" else ord("x")
    for byte in range(256)
)
_THIRTEEN_DIGITS = b"d" * 13

_AUTH_SCHEME = re.compile(r"\b(?i:bearer|basic)\s+([A-Za-z0-9._~+/=-]{8,})", re.ASCII)

# ASCII only (re.ASCII): secrets are ASCII, and the first look above reads bytes.
_VALUE_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "private_key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----", re.ASCII
        ),
    ),
    # An HTTP auth scheme and its token; English has "basic" and "bearer" too, so the token
    # is replaced only where it is a credential (see _scheme_replacement).
    ("bearer", _AUTH_SCHEME),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", re.ASCII)),
    # OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), and the like.
    ("api_key", re.compile(r"\b(?:sk|rk|pk)-[A-Za-z0-9_-]{20,}", re.ASCII)),
    ("api_key", re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}", re.ASCII)),  # Stripe
    ("api_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", re.ASCII)),  # AWS access key ids
    (
        "api_key",
        re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}", re.ASCII),
    ),
    ("api_key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}", re.ASCII)),  # Google
    ("api_key", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}", re.ASCII)),  # Slack
    ("api_key", re.compile(r"\bhf_[A-Za-z0-9]{30,}", re.ASCII)),  # Hugging Face
    # Card numbers by brand prefix and length, confirmed by the Luhn check below, so long
    # ids and nanosecond timestamps (which start with 1) are left alone.
    (
        "card",
        re.compile(
            r"\b(?:4\d{3}|5[1-5]\d{2}|2[2-7]\d{2}|3[47]\d{2}|6(?:011|5\d{2}))(?:[ -]?\d){9,15}\b",
            re.ASCII,
        ),
    ),
]


def _may_hold_secret_value(text: str) -> bool:
    """Whether any value rule could match ``text`` (never ``False`` when one would)."""
    if len(text) < 13:  # the shortest secret: a 13-digit card
        return False
    data = text.encode("utf-8", "replace")  # secrets are ASCII; others map to non-run bytes
    if b"-----BEGIN" in data:
        return True
    # ASCII case folded in bytes: str.lower() costs some 4 ns a character beyond ASCII.
    folded = data.lower()
    if (b"bearer" in folded or b"basic" in folded) and _holds_scheme_credential(text, folded):
        return True
    flags = data.translate(_FLAGS)
    if _FOUR_DIGITS in flags and _may_hold_card(text, data):
        return True
    return _may_hold_key_prefix(data, flags)


def _may_hold_key_prefix(data: bytes, flags: bytes) -> bool:
    """Whether :data:`_SECRET_PREFIX` matches within a run of 15+ run characters.

    ``flags``: ``data`` translated by :data:`_FLAGS`. Long runs are common in plain text
    (CamelCase names, paths, URLs), and a regex costs some 15 ns a character: the
    prefixes' telltale pairs of neighbours are looked for first, over the whole text as
    one big integer (two C-speed passes). Only a long run holding such a pair gets the
    regex.
    """
    bits = int.from_bytes(flags, "big")
    # Big-endian: shifting by 7 puts the next byte's bit 1 (4) on this byte's bit 0 (3).
    pairs = bits & (bits << 7)
    if not pairs:
        return False
    size = len(data)
    marked = pairs.to_bytes(size, "big").translate(_ANY_BITS)  # 1 where a pair starts
    at = marked.find(1)
    while at >= 0:
        start = flags.rfind(_RUN_END, 0, at) + 1
        end = flags.find(_RUN_END, at)
        if end < 0:
            end = size
        if end - start >= _SHORTEST_RUN and _SECRET_PREFIX.search(data, start, end):
            return True
        at = marked.find(1, end)  # the run's other pairs are looked at with it
    return False


def _may_hold_card(text: str, data: bytes) -> bool:
    """Whether :data:`_CARD_LIKE` matches ``text`` (``data``: its UTF-8 bytes).

    Every match is 13 digits in a row once its single spaces and dashes are taken out: a
    byte translation and a substring test say whether any can be there (about 2 ns a
    character), before the regex (about 11) looks. Most numbers (years, ids, counts) are
    shorter.
    """
    if _THIRTEEN_DIGITS not in data.translate(_CARD_CLASSES).replace(b"s", b""):
        return False
    return _CARD_LIKE.search(text) is not None


def _may_hold_secret_key(json_text: str) -> bool:
    """Whether a key of ``json_text`` ends in one of :data:`_KEY_ENDINGS`, any case.

    Text beyond ASCII with few keys for its length (a payload of prose) is looked at only
    before each ``":`` that closes a key: lower-casing and reversing all of it costs some 4
    ns a character there (ASCII text, a fraction of that). Other text gets the one scan of
    its reversed copy.
    """
    # isascii() is known at once (CPython keeps the flag); count() is one C-speed pass.
    if json_text.isascii() or json_text.count('":') * _CHARS_A_KEY_LOOK > len(json_text):
        return _REVERSED_KEY_END.search(json_text.lower()[::-1]) is not None
    at = json_text.find('":')
    while at >= 0:
        # Each character lower-cases to one or more: the last few before the '":' suffice.
        if json_text[max(0, at - _LONGEST_KEY_ENDING) : at].lower().endswith(_KEY_ENDINGS):
            return True
        at = json_text.find('":', at + 1)
    return False


_LONGEST_KEY_ENDING = max(map(len, _KEY_ENDINGS))
_CHARS_A_KEY_LOOK = 100
"""Characters of text one key's look costs as much as (about 0.4 µs against 4 ns each)."""


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check that card numbers carry."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


@functools.lru_cache(maxsize=4096)
def _normalized_secret_key(key: str) -> bool:
    normalized = re.sub(r"[^a-z0-9]", "", key.lower())
    return normalized in _SECRET_KEYS or normalized.endswith(_SECRET_SUFFIXES)


class Redactor:
    """Applies the built-in rules, extra secret keys, and a user callable.

    Example:
        >>> Redactor().text("call with sk-proj-abcdefghijklmnopqrstuvwx")
        'call with [REDACTED:api_key]'
    """

    def __init__(
        self,
        *,
        builtin: bool = True,
        extra_keys: Iterable[str] = (),
        user: UserRedactor | None = None,
    ) -> None:
        self.builtin = builtin
        self.extra_keys = frozenset(re.sub(r"[^a-z0-9]", "", k.lower()) for k in extra_keys)
        self.user = user

    def secret_key(self, key: object) -> bool:
        """Whether a value under ``key`` is a secret whatever it looks like."""
        if not isinstance(key, str):
            return False
        if self.extra_keys and re.sub(r"[^a-z0-9]", "", key.lower()) in self.extra_keys:
            return True
        return self.builtin and _normalized_secret_key(key)

    def text(self, text: str, key: str | None = None) -> str:
        """``text`` with secret-looking values replaced (and the user callable applied)."""
        if key is not None and self.secret_key(key):
            return REDACTED
        if self.builtin and _may_hold_secret_value(text):
            text = _replace_values(text)
        if self.user is not None:
            text = self._user(key, text)
        return text

    def needs_structural_pass(self, json_text: str) -> bool:
        """Whether serialized JSON may hold a secret key or value (a cheap, loose test)."""
        if self.user is not None or self.extra_keys:
            return True
        return self.builtin and (
            _may_hold_secret_key(json_text) or _may_hold_secret_value(json_text)
        )

    def all_clean(self, json_texts: Sequence[str], texts: Sequence[str]) -> bool:
        """Whether no text needs redacting: one first look over all of them at once.

        ``json_texts`` are serialized JSON (their keys are looked at too), ``texts`` plain
        text. Joined by a newline, which neither a key nor a value rule's first look reads
        across, the texts are looked at in a few C-speed scans instead of a few per text:
        ``True`` only when every text alone would need no pass (``False`` may be wrong:
        then each text is looked at alone).
        """
        if self.user is not None or self.extra_keys:
            return False
        if not self.builtin:
            return True
        joined_json = "\n".join(json_texts)
        if _may_hold_secret_key(joined_json):
            return False
        return not _may_hold_secret_value("\n".join((joined_json, *texts)))

    def structure(self, value: Any, key: str | None = None, depth: int = 0) -> Any:
        """A JSON-like structure with secret keys and values replaced (a new structure).

        Nesting past :data:`MAX_DEPTH` is replaced whole: it cannot be checked, so it is
        not let through.
        """
        if depth > MAX_DEPTH and isinstance(value, (dict, list)):
            return REDACTED
        if isinstance(value, dict):
            return {
                k: REDACTED if self.secret_key(k) else self.structure(v, k, depth + 1)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.structure(v, key, depth + 1) for v in value]
        if isinstance(value, str):
            return self.text(value, None) if key is None else self._text_under(key, value)
        if isinstance(value, int) and not isinstance(value, bool) and 12 < len(str(value)) < 20:
            redacted = self.text(str(value), None)
            return value if redacted == str(value) else redacted
        return value

    def _text_under(self, key: str, value: str) -> str:
        # The key was checked by the enclosing dict; pass it to the user callable only.
        if self.builtin and _may_hold_secret_value(value):
            value = _replace_values(value)
        return self._user(key, value) if self.user is not None else value

    def _user(self, key: str | None, text: str) -> str:
        assert self.user is not None
        try:
            result = self.user(key, text)
        except Exception:
            log_internal_error("the user's redact callable")
            return REDACTOR_FAILED
        return result if isinstance(result, str) else REDACTOR_FAILED

    def json_text(self, json_text: str) -> str:
        """Redact serialized JSON through its structure (JSON stays valid)."""
        try:
            decoded = json.loads(json_text)
        except (ValueError, RecursionError):
            return self.text(json_text)
        return json.dumps(self.structure(decoded), ensure_ascii=False, separators=(",", ":"))


def _replace_values(text: str) -> str:
    for kind, pattern in _VALUE_PATTERNS:
        if kind == "card":
            text = pattern.sub(_card_replacement, text)
        elif kind == "bearer":
            text = pattern.sub(_scheme_replacement, text)
        else:
            text = pattern.sub(f"[REDACTED:{kind}]", text)
    return text


def _scheme_replacement(match: re.Match[str]) -> str:
    """``Bearer``/``Basic`` and a token: the token replaced when it is a credential.

    It is one after an ``Authorization`` header's name (``Authorization: Basic ...``), or
    when it looks made by a machine: 16 characters or more with a digit, base64's ``+/=``,
    or the case changing every few letters. Not a word: "basic understanding", "a bearer
    bond", "basic JavaScript" are prose.
    """
    token = match.group(1)
    before = match.string[max(0, match.start() - _AUTHORIZATION_REACH) : match.start()]
    if _AFTER_AUTHORIZATION.search(before) or _looks_generated(token):
        return match.group(0).split()[0] + " " + REDACTED
    return match.group(0)


def _holds_scheme_credential(text: str, folded: bytes) -> bool:
    """Whether :func:`_scheme_replacement` replaces a token in ``text`` (prose: no).

    The rule is tried only where ``folded`` (``text``'s UTF-8 bytes, ASCII lower-cased)
    has a scheme's name: a regex search tries a case-blind alternation at every character,
    some 30 ns each.
    """
    if len(folded) != len(text):  # beyond ASCII: byte and character positions differ
        matches: Iterable[re.Match[str] | None] = _AUTH_SCHEME.finditer(text)
    else:
        matches = (_AUTH_SCHEME.match(text, at) for at in _places(folded, _SCHEMES))
    return any(m is not None and _scheme_replacement(m) != m.group(0) for m in matches)


def _places(data: bytes, words: Iterable[bytes]) -> Iterable[int]:
    """Where each of ``words`` starts in ``data``, at C speed (``bytes.find``)."""
    for word in words:
        at = data.find(word)
        while at >= 0:
            yield at
            at = data.find(word, at + 1)


_SCHEMES = (b"bearer", b"basic")


def _looks_generated(token: str) -> bool:
    if len(token) < 16:
        return False
    return bool(_DIGIT_OR_BASE64.search(token)) or len(_CASE_CHANGES.findall(token)) >= 4


_AFTER_AUTHORIZATION = re.compile(r"(?i:authorization)\W{0,5}\Z", re.ASCII)
_AUTHORIZATION_REACH = len("authorization") + 5
_DIGIT_OR_BASE64 = re.compile(r"[0-9+/=]")
_CASE_CHANGES = re.compile(r"[a-z][A-Z]")


def _card_replacement(match: re.Match[str]) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return "[REDACTED:card]"
    return match.group(0)


# Attributes other instrumentations use for prompts, completions, tool arguments and results.
CONTENT_KEYS = (
    sc.GEN_AI_INPUT_MESSAGES,
    sc.GEN_AI_OUTPUT_MESSAGES,
    sc.GEN_AI_SYSTEM_INSTRUCTIONS,
    sc.GEN_AI_TOOL_CALL_ARGUMENTS,
    sc.GEN_AI_TOOL_CALL_RESULT,
    sc.GEN_AI_RETRIEVAL_QUERY_TEXT,
    sc.GEN_AI_RETRIEVAL_DOCUMENTS,
    "gen_ai.prompt",  # the conventions' older event-based names
    "gen_ai.completion",
    sc.INPUT_VALUE,
    sc.OUTPUT_VALUE,
    "llm.input_messages",  # OpenInference's flattened messages: llm.input_messages.0...
    "llm.output_messages",
    "llm.prompts",
)


def attribute_store(owner: object) -> dict[str, Any] | None:
    """The dict behind a span's (or an event's) SDK attributes, ``None`` if it has none.

    The SDK offers no public way to change an ending span's attributes, and reading them
    through its read-only view costs a Python call per key. Every place that reaches past
    the view goes through here, so an SDK that changes the shape costs one place.
    """
    attributes = getattr(owner, "_attributes", None)
    if type(attributes) is dict:  # an ended span of ours (compact_ended_span)
        return attributes
    store = getattr(attributes, "_dict", None)
    return store if isinstance(store, dict) else None


def compact_ended_span(span: object) -> None:
    """Swap an ended span's SDK containers for plain ones, where that loses nothing.

    The SDK keeps a span's attributes in a ``BoundedAttributes`` (a lock around a dict) and
    its events and links in ``BoundedList``s (a lock and a deque each), though most spans
    drop nothing and have neither: eight objects and some 1.5 KB, which the garbage
    collector walks again and again while a trace waits for export. The SDK's
    ``ReadableSpan`` reads plain ones the same (attributes through ``MappingProxyType``,
    events and links through ``tuple()``, drop counts only from its bounded types, else 0),
    and takes them as its own defaults. The span has ended: nothing writes them any more.
    A span that refuses the swap (another SDK's, a later SDK's) keeps its containers.
    """
    # Exact types and attribute reads, no loop: this runs on the app's thread for every span.
    try:
        attributes = span._attributes  # type: ignore[attr-defined]
        if type(attributes) is BoundedAttributes and attributes.dropped == 0:
            store = attributes._dict
            if type(store) is dict:
                span._attributes = store  # type: ignore[attr-defined]
        events = span._events  # type: ignore[attr-defined]
        if type(events) is BoundedList and events.dropped == 0 and not events._dq:  # type: ignore[attr-defined]
            span._events = ()  # type: ignore[attr-defined]
        links = span._links  # type: ignore[attr-defined]
        if type(links) is BoundedList and links.dropped == 0 and not links._dq:  # type: ignore[attr-defined]
            span._links = ()  # type: ignore[attr-defined]
    except (AttributeError, TypeError):
        pass


_PRIVATE_NAMES = {"events": "_events", "links": "_links"}


def dropped_nothing(span: Any) -> bool:
    """Whether the span dropped no attribute, event or link (all three SDK counts are 0).

    A compacted span (:func:`compact_ended_span`) says so by its containers' types, without
    the three properties' ABC checks: the SDK counts drops only in its bounded types.
    """
    if (
        type(getattr(span, "_attributes", None)) is dict
        and type(getattr(span, "_events", None)) is tuple
        and type(getattr(span, "_links", None)) is tuple
    ):
        return True
    return not (span.dropped_attributes or span.dropped_events or span.dropped_links)


def recorded_items(span: object, name: str) -> Sequence[Any]:
    """A span's ``events`` or ``links`` (``name``), read past the SDK's view when it is empty.

    The view copies its list under a lock on every read, a cost that shows on the export
    worker for every span, though most spans have neither.
    """
    items = getattr(span, _PRIVATE_NAMES[name], None)
    if items is not None and len(items) == 0:
        return ()
    return getattr(span, name)  # type: ignore[no-any-return]


def clean_foreign_span(span: Any, redactor: Redactor | None, keep_content: bool) -> None:
    """Redact (or drop the content of) a span another instrumentation recorded, in place.

    Called while the span is ending, before any processor sees its final form, so the
    app's own exporters get the cleaned span too. The SDK offers no public way to change
    an ending span, so this writes into its attribute and event stores; if those change
    shape in a future SDK, nothing is written and the span goes out as recorded.
    """
    for owner in (span, *(getattr(span, "_events", None) or ())):
        store = attribute_store(owner)
        if store is not None:
            _clean_mapping(store, redactor, keep_content)


def _clean_mapping(store: dict[str, Any], redactor: Redactor | None, keep_content: bool) -> None:
    for key in list(store):
        value = store[key]
        if not keep_content and key.startswith(CONTENT_KEYS):
            del store[key]
        elif redactor is not None:
            if redactor.secret_key(key):
                store[key] = REDACTED
            elif isinstance(value, str):
                store[key] = _redacted_attribute_text(value, redactor)
            elif isinstance(value, tuple) and value and isinstance(value[0], str):
                store[key] = tuple(_redacted_attribute_text(v, redactor) for v in value)


def _redacted_attribute_text(value: str, redactor: Redactor) -> str:
    # Messages are JSON text: redact through their structure so secret keys go too.
    if value[:1] in ("{", "[") and redactor.needs_structural_pass(value):
        return redactor.json_text(value)
    return redactor.text(value)
