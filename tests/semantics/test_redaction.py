"""Redaction, on by default: no secret reaches any exporter, ours or the app's own."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_trace
from genai_trace import SpanType
from genai_trace._semantics.redaction import Redactor, luhn_valid
from genai_trace.exporters import InMemoryTraceExporter
from genai_trace.testing import capture_traces
from tests.helpers.app_processors import added_processor
from tests.helpers.trace_shape import only

OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
SECRETS = (OPENAI_KEY, JWT, "hunter2", "4111 1111 1111 1111", "AKIAIOSFODNN7EXAMPLE")


@pytest.fixture
def app_spans() -> Iterator[InMemorySpanExporter]:
    """The app's own exporter on the global provider, beside genai-trace's."""
    provider = trace_api.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    with added_processor(provider, SimpleSpanProcessor(exporter)):
        yield exporter


def everything_exported(traces: list[genai_trace.Trace], app: InMemorySpanExporter) -> str:
    ours = json.dumps([t.to_dict() for t in traces], default=str)
    theirs = json.dumps(
        [
            {
                "name": s.name,
                "attributes": dict(s.attributes or {}),
                "events": [dict(e.attributes or {}) for e in s.events],
                "status": s.status.description,
            }
            for s in app.get_finished_spans()
        ]
    )
    return ours + theirs


def test_secrets_in_inputs_outputs_attributes_events_and_errors_never_leave(
    app_spans: InMemorySpanExporter,
) -> None:
    @genai_trace.trace(span_type=SpanType.LLM, attributes={"api_key": OPENAI_KEY})
    def call_llm(prompt: str, api_key: str, headers: dict[str, str]) -> dict[str, object]:
        span = genai_trace.get_current_span()
        span.set_attribute("auth_header", f"Bearer {JWT}")
        span.add_event("retry", {"password": "hunter2", "note": f"used {OPENAI_KEY}"})
        genai_trace.update_current_trace(
            request_preview=f"prompt with {OPENAI_KEY}", metadata={"client_secret": "hunter2"}
        )
        raise PermissionError(f"key {OPENAI_KEY} rejected for card 4111 1111 1111 1111")

    with capture_traces() as traces, pytest.raises(PermissionError):
        call_llm(
            f"my card is 4111 1111 1111 1111, key {OPENAI_KEY}",
            OPENAI_KEY,
            {"Authorization": f"Bearer {JWT}", "X-Aws": "AKIAIOSFODNN7EXAMPLE"},
        )
    exported = everything_exported(traces, app_spans)
    for secret in SECRETS:
        assert secret not in exported, secret
    (span,) = only(traces).spans
    assert span.inputs == {
        "prompt": "my card is [REDACTED:card], key [REDACTED:api_key]",
        "api_key": "[REDACTED]",
        "headers": {"Authorization": "[REDACTED]", "X-Aws": "[REDACTED:api_key]"},
    }
    assert span.attributes["api_key"] == "[REDACTED]"
    assert span.attributes["auth_header"] == "Bearer [REDACTED]"
    assert dict(span.events[0].attributes) == {
        "password": "[REDACTED]",
        "note": "used [REDACTED:api_key]",
    }
    error = span.events[1].attributes
    assert error["exception.message"] == "key [REDACTED:api_key] rejected for card [REDACTED:card]"
    assert span.status_message == "PermissionError: " + error["exception.message"]
    info = only(traces).info
    assert info.request_preview == "prompt with [REDACTED:api_key]"
    assert dict(info.metadata) == {"client_secret": "[REDACTED]"}


def test_messages_recorded_by_another_instrumentation_are_redacted_for_every_exporter(
    app_spans: InMemorySpanExporter,
) -> None:
    llm_client = trace_api.get_tracer("opentelemetry.instrumentation.genai.openai")
    messages = [{"role": "user", "parts": [{"type": "text", "content": f"use {OPENAI_KEY}"}]}]
    with capture_traces() as traces:
        with genai_trace.start_span("chain"):
            with llm_client.start_as_current_span("chat gpt-4o") as span:
                span.set_attribute("gen_ai.operation.name", "chat")
                span.set_attribute("gen_ai.input.messages", json.dumps(messages))
                span.set_attribute("gen_ai.request.api_key", OPENAI_KEY)
                span.add_event("gen_ai.content.prompt", {"gen_ai.prompt": f"x {OPENAI_KEY}"})
    exported = everything_exported(traces, app_spans)
    assert OPENAI_KEY not in exported
    chat = only(traces).get_span("chat gpt-4o")
    assert chat is not None
    assert chat.span_type == "CHAT_MODEL"
    assert chat.inputs == [
        {"role": "user", "parts": [{"type": "text", "content": "use [REDACTED:api_key]"}]}
    ]
    assert chat.attributes["gen_ai.request.api_key"] == "[REDACTED]"


def test_no_false_positives_on_ids_counts_and_timestamps() -> None:
    values = {
        "session_id": "sess-1234567890abcdef1234",
        "max_tokens": 256,
        "input_tokens": 12,
        "token_count": 7,
        "tokenizer": "cl100k_base",
        "request_id": "req_8f14e45fceea167a5a36dedd4bea2543",
        "timestamp_ns": 1795879738867113892,
        "order": "4111-but-not-a-card",
        "sku": "sk-short",
    }

    @genai_trace.trace
    def handle(payload: dict[str, object]) -> str:
        return "the key word is secretive but fine"

    with capture_traces() as traces:
        handle(values)
    span = only(traces).spans[0]
    assert span.inputs == {"payload": values}
    assert span.outputs == "the key word is secretive but fine"


def test_a_user_redactor_runs_after_the_built_in_rules_and_fails_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def hide_emails(key: str | None, text: str) -> str:
        if key == "explode":
            raise RuntimeError("bug in the user's redactor")
        return text.replace("ada@example.com", "<email>")

    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], redact=hide_emails, redact_keys=["patient_id"])

    @genai_trace.trace
    def lookup(email: str, patient_id: str, explode: str) -> str:
        return f"found ada@example.com with {OPENAI_KEY}"

    monkeypatch.setenv("GENAI_TRACE_RAISE_INTERNAL_ERRORS", "0")
    lookup("ada@example.com", "p-42", "boom")
    genai_trace.flush()
    (span,) = exporter.get_finished_traces()[0].spans
    assert span.inputs == {
        "email": "<email>",
        "patient_id": "[REDACTED]",
        "explode": "[REDACTED: the redactor raised]",
    }
    assert span.outputs == "found <email> with [REDACTED:api_key]"


def test_redaction_can_be_turned_off() -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], redaction=False)
    unit = genai_trace.trace(lambda api_key: api_key)
    unit(OPENAI_KEY)
    genai_trace.flush()
    (span,) = exporter.get_finished_traces()[0].spans
    assert span.inputs == {"api_key": OPENAI_KEY}


def test_capture_content_false_records_no_content_at_all(
    app_spans: InMemorySpanExporter,
) -> None:
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], capture_content=False)
    llm_client = trace_api.get_tracer("opentelemetry.instrumentation.genai.openai")

    @genai_trace.trace(span_type=SpanType.CHAIN)
    def answer(question: str) -> str:
        genai_trace.get_current_span().set_outputs("ignored too")
        genai_trace.update_current_trace(request_preview="explicit preview", tags={"kept": "yes"})
        with llm_client.start_as_current_span("chat m") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.input.messages", '[{"role":"user"}]')
            span.set_attribute("gen_ai.usage.input_tokens", 3)
        return "private answer"

    answer("private question")
    genai_trace.flush()
    trace = exporter.get_finished_traces()[0]
    assert [(s.name, s.inputs, s.outputs) for s in trace.spans] == [
        ("answer", None, None),
        ("chat m", None, None),
    ]
    assert trace.info.request_preview is None and trace.info.response_preview is None
    assert dict(trace.info.tags) == {"kept": "yes"}
    assert trace.info.token_usage == genai_trace.TokenUsage(3, 0, 3)
    exported = everything_exported([trace], app_spans)
    assert "private" not in exported and "gen_ai.input.messages" not in exported


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abcdef123456", "Authorization: Bearer [REDACTED]"),
        # After an Authorization header's name any token is a credential, digits or not.
        ("-H 'Authorization: Basic YWxhZGRpbjpvcGVu'", "-H 'Authorization: Basic [REDACTED]'"),
        ("proxy-authorization=bearer abcdefgh", "proxy-authorization=bearer [REDACTED]"),
        # Elsewhere, a token that looks made by a machine: a digit, base64's + / =, or case
        # changing every few letters.
        ("send Basic dXNlcjpwYXNzd29yZA== now", "send Basic [REDACTED] now"),
        ("bearer AbCdEfGhIjKlMnOpQr", "bearer [REDACTED]"),
        # English has "basic" and "bearer": prose stays whole.
        ("This is basic information about it.", "This is basic information about it."),
        ("a basic JavaScript example", "a basic JavaScript example"),
        ("the bearer receives", "the bearer receives"),
        ("basic OpenTelemetryInstrumentation", "basic OpenTelemetryInstrumentation"),
        ("ghp_" + "a" * 36, "[REDACTED:api_key]"),
        ("AIza" + "B" * 35, "[REDACTED:api_key]"),
        ("xoxb-1234567890-abcdef", "[REDACTED:api_key]"),
        ("sk_live_" + "c" * 24, "[REDACTED:api_key]"),
        (
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----",
            "[REDACTED:private_key]",
        ),
        ("5500 0000 0000 0004", "[REDACTED:card]"),
        ("5500 0000 0000 0005", "5500 0000 0000 0005"),  # fails the Luhn check
        ("call 1795879738867113892", "call 1795879738867113892"),
        ("url?card=4111111111111111&x=1", "url?card=[REDACTED:card]&x=1"),
        ("env OPENAI=sk-proj-" + "a" * 24, "env OPENAI=[REDACTED:api_key]"),
        (
            "OpenTelemetry's BatchSpanProcessor and /usr/local/lib/python3.11",
            "OpenTelemetry's BatchSpanProcessor and /usr/local/lib/python3.11",
        ),
    ],
)
def test_value_rules(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


def test_key_rules_ignore_case_and_separators() -> None:
    redactor = Redactor()
    secret = ["API-Key", "apiKey", "openai_api_key", "DB_PASSWORD", "github_token", "Cookie"]
    fine = ["session_id", "max_tokens", "token_count", "tokens", "author", "keys", "monkey"]
    assert [k for k in secret if not redactor.secret_key(k)] == []
    assert [k for k in fine if redactor.secret_key(k)] == []
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


# Pieces the property below mixes: secrets of every rule, near misses, and text that has
# long runs, digits, non-ASCII, case changes and the first look's pairs ("p_", "AI") around them.
_PIECES = (
    "sk-proj-" + "Ab1" * 8, "rk_test_" + "x" * 16, "AKIAIOSFODNN7EXAMPLE", "ghp_" + "a" * 30,
    "github_pat_" + "B" * 22, "AIza" + "c" * 35, "xoxb-1234567890", "hf_" + "d" * 30, JWT,
    "BEARER abcdefgh", "basic\tabcdefgh", "Authorization: Basic abcdefgh", "bearer A1b2c3d4e5f6g7",
    "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----",
    "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005", "4222222222222",
    "6011 0009 9013 9424", "BatchSpanProcessor", "/usr/local/lib/python3.11", "sk-", "AKIA",
    "12345678901234567890", "é", "ß", "\u212a", "日本", " ", "\n", '"', ":", "-", "_", ".",
    "top_k", "OpenAI", "__init__", "K8s", "eyJ", "xox", "gh", "hf", "Ay", "b_",
)  # fmt: skip


def _first_look_agrees(text: str) -> None:
    from genai_trace._semantics.redaction import _may_hold_secret_value, _replace_values

    if not _may_hold_secret_value(text):
        assert _replace_values(text) == text, text


def test_the_first_look_passes_prose_with_basic_or_bearer_at_once() -> None:
    from genai_trace._semantics.redaction import _may_hold_secret_value

    assert not _may_hold_secret_value("basic questions, and the bearer of the answers")
    assert _may_hold_secret_value("basic questions; Authorization: Basic abcdefgh")
    # "İ".lower() is two characters: the scheme is looked for in the text itself then.
    assert _may_hold_secret_value("İİ send Basic dXNlcjpwYXNzd29yZA== now")
    assert not _may_hold_secret_value("İİ basic questions, and the bearer of the answers")


@pytest.mark.parametrize(
    "text",
    [
        # Pairs of a prefix's neighbours ("p_", "AI", "s-") in short and in long runs
        # before the key: each run is looked at in turn, none hides the next.
        "top_k=3 and OpenAI, then sk-proj-" + "Ab1" * 8,
        "see opentelemetry/sdk/trace/export/__init__.py, then ghp_" + "a" * 30,
        "keys_and_passwords_as_words " * 3 + "AKIAIOSFODNN7EXAMPLE",
    ],
)
def test_the_first_look_reads_past_neighbours_that_only_look_like_a_prefix(text: str) -> None:
    from genai_trace._semantics.redaction import _may_hold_secret_value

    assert _may_hold_secret_value(text)
    assert not _may_hold_secret_value(text.rsplit(" ", 1)[0])


_KEY_PIECES = st.sampled_from(
    ["api_key", "API-Key", "db_password", "tokens", "monkey", "\u212aey", "İ", "Σ", " ", "x"]
)


@settings(max_examples=300)
@given(
    st.dictionaries(
        st.lists(_KEY_PIECES, max_size=4).map("".join), st.text(max_size=30), max_size=5
    ),
    st.integers(0, 400),
)
def test_the_key_look_key_by_key_agrees_with_one_scan_of_the_text(
    document: dict[str, str], padding: int
) -> None:
    # A payload of prose beyond ASCII (few keys for its length) is looked at key by key;
    # other text gets one scan of its reversed copy. Both must say the same of every text.
    from genai_trace._semantics import redaction

    text = json.dumps(
        {"prose": "é" + "p" * padding, **document}, ensure_ascii=False, separators=(",", ":")
    )
    scan = redaction._REVERSED_KEY_END.search(text.lower()[::-1]) is not None
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redaction, "_CHARS_A_KEY_LOOK", 0)  # always key by key
        assert redaction._may_hold_secret_key(text) == scan, text


# Digit groups and the separators a card may have, so that card-like text is common.
_CARD_PIECES = st.sampled_from(
    ["4111", "1111", "0", "12", "123", " ", "-", "  ", " - ", "x", ".", "é", "\u0663"]
)


@settings(max_examples=300)
@given(st.lists(_CARD_PIECES, max_size=14).map("".join))
def test_the_card_first_look_agrees_with_the_card_pattern(text: str) -> None:
    from genai_trace._semantics.redaction import _CARD_LIKE, _may_hold_card

    data = text.encode("utf-8", "replace")
    assert _may_hold_card(text, data) == (_CARD_LIKE.search(text) is not None)


@pytest.mark.parametrize("piece", _PIECES)
def test_the_first_look_sees_each_secret_alone_and_in_text(piece: str) -> None:
    for text in (piece, f"see {piece}.", f'{{"k":"{piece}"}}', f"é{piece}é"):
        _first_look_agrees(text)


@settings(max_examples=300)
@given(st.lists(st.sampled_from(_PIECES) | st.text(max_size=6), max_size=12))
def test_the_first_look_never_misses_what_the_rules_replace(parts: list[str]) -> None:
    _first_look_agrees("".join(parts))


@settings(max_examples=300)
@given(
    st.lists(st.lists(st.sampled_from(_PIECES) | st.text(max_size=6), max_size=6), max_size=6),
    st.lists(st.lists(st.sampled_from(_PIECES) | st.text(max_size=6), max_size=6), max_size=6),
)
def test_texts_looked_at_together_are_clean_only_if_each_is(
    json_parts: list[list[str]], text_parts: list[list[str]]
) -> None:
    from genai_trace._semantics.redaction import Redactor, _may_hold_secret_value

    redactor = Redactor()
    json_texts = [json.dumps({"k": "".join(p), "".join(p): 1}) for p in json_parts]
    texts = ["".join(p) for p in text_parts]
    if redactor.all_clean(json_texts, texts):
        assert not any(redactor.needs_structural_pass(t) for t in json_texts)
        assert not any(_may_hold_secret_value(t) for t in texts)


def test_a_user_redactor_or_extra_keys_are_never_skipped_together() -> None:
    from genai_trace._semantics.redaction import Redactor

    assert Redactor().all_clean(['{"q":"hello"}'], ["plain words"])
    assert not Redactor(extra_keys=["q"]).all_clean(['{"q":"hello"}'], [])
    assert not Redactor(user=lambda key, value: value).all_clean([], ["plain words"])
    assert not Redactor().all_clean(['{"api_key":"x"}'], [])


# --- redaction that waits for the export: genai-trace's assembler is the only processor ----


def sole_provider(**settings: Any) -> TracerProvider:
    """A provider only genai-trace uses: no other processor can read its spans."""
    provider = TracerProvider(span_limits=settings.pop("span_limits", None))
    exporter = InMemoryTraceExporter()
    genai_trace.configure(exporters=[exporter], tracer_provider=provider, **settings)
    sole_provider.exporter = exporter  # type: ignore[attr-defined]
    return provider


def raw_payloads(trace: genai_trace.Trace) -> list[str]:
    return [str(s.attributes.get(k)) for s in trace.spans for k in ("input.value", "output.value")]


def test_alone_the_payloads_are_redacted_by_the_export_not_on_the_callers_thread() -> None:
    from genai_trace._runtime import state as _runtime

    provider = sole_provider()
    assert _runtime.current().assembler.is_sole_processor()  # type: ignore[union-attr]
    recorded: list[str] = []

    @genai_trace.trace
    def ask(question: str, api_key: str) -> dict[str, str]:
        with genai_trace.start_span("lookup", inputs={"card": SECRETS[3]}) as span:
            span.set_outputs({"token": OPENAI_KEY, "note": f"use {OPENAI_KEY}"})
        current = trace_api.get_current_span()
        recorded.append(str(dict(current.attributes or {})))  # type: ignore[attr-defined]
        return {"answer": f"signed {JWT}"}

    ask(f"my key is {OPENAI_KEY}", "hunter2")
    genai_trace.flush()
    assert OPENAI_KEY in recorded[0]  # in memory the span still holds it: nothing read it
    (trace,) = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    exported = json.dumps(trace.to_dict(), default=str) + " ".join(raw_payloads(trace))
    assert [s for s in SECRETS if s in exported] == []
    root, lookup = trace.spans
    assert root.inputs == {"question": "my key is [REDACTED:api_key]", "api_key": "[REDACTED]"}
    assert root.outputs == {"answer": "signed [REDACTED:jwt]"}
    assert lookup.outputs == {"token": "[REDACTED]", "note": "use [REDACTED:api_key]"}
    assert trace.info.request_preview is not None and OPENAI_KEY not in trace.info.request_preview
    provider.shutdown()


def test_a_processor_added_while_a_span_is_open_never_sees_what_waited() -> None:
    provider = sole_provider()
    app = InMemorySpanExporter()

    @genai_trace.trace
    def ask(question: str) -> str:
        provider.add_span_processor(SimpleSpanProcessor(app))  # the app joins mid-call
        return f"answer with {OPENAI_KEY}"

    ask(f"key {OPENAI_KEY}")
    genai_trace.flush()
    (span,) = app.get_finished_spans()
    assert dict(span.attributes or {}) == {
        "openinference.span.kind": "CHAIN",
        "input.value": '{"question":"key [REDACTED:api_key]"}',
        "input.mime_type": "application/json",
        "output.value": "answer with [REDACTED:api_key]",
    }
    provider.shutdown()


def test_a_payload_too_big_to_keep_whole_is_redacted_before_it_is_cut() -> None:
    provider = sole_provider()
    genai_trace.configure(
        exporters=[exporter := InMemoryTraceExporter()],
        tracer_provider=provider,
        max_payload_chars=64,
    )

    @genai_trace.trace
    def ask(question: str) -> None:
        return None

    ask("x" * 40 + OPENAI_KEY)  # the cut would fall inside the key
    genai_trace.flush()
    (trace,) = exporter.get_finished_traces()
    assert "sk-proj" not in trace.spans[0].attributes["input.value"]
    provider.shutdown()


@pytest.mark.parametrize("processor_joins_mid_trace", [False, True])
def test_client_payloads_wait_for_the_export_the_same_way(processor_joins_mid_trace: bool) -> None:
    provider = sole_provider()
    app = InMemorySpanExporter()
    client = genai_trace.TraceClient()
    root = client.start_trace("turn", inputs={"prompt": f"use {OPENAI_KEY}"})
    if processor_joins_mid_trace:
        provider.add_span_processor(SimpleSpanProcessor(app))
    client.end_trace(trace_id=root.trace_id, outputs={"password": "hunter2"})
    genai_trace.flush()
    (trace,) = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    assert (trace.spans[0].inputs, trace.spans[0].outputs) == (
        {"prompt": "use [REDACTED:api_key]"},
        {"password": "[REDACTED]"},
    )
    # The JSON payloads' mime types waited with them, and were set with their redaction.
    types = ("input.mime_type", "output.mime_type")
    assert [trace.spans[0].attributes[k] for k in types] == ["application/json"] * 2
    seen = [dict(s.attributes or {}) for s in app.get_finished_spans()]
    if processor_joins_mid_trace:
        assert [(a["input.value"], a["output.value"]) for a in seen] == [
            ('{"prompt":"use [REDACTED:api_key]"}', '{"password":"[REDACTED]"}')
        ]
        assert [seen[0][k] for k in types] == ["application/json"] * 2
    provider.shutdown()


def test_alone_a_json_payloads_mime_type_waits_with_it() -> None:
    provider = sole_provider()
    live: list[dict[str, Any]] = []

    @genai_trace.trace
    def ask(question: str) -> dict[str, str]:
        live.append(dict(trace_api.get_current_span().attributes or {}))  # type: ignore[attr-defined]
        return {"answer": "42"}

    ask("why?")
    genai_trace.flush()
    assert "input.mime_type" not in live[0]  # one SDK attribute less while it waits
    (trace,) = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    (span,) = trace.spans
    assert {k: v for k, v in span.attributes.items() if "mime" in k} == {
        "input.mime_type": "application/json",
        "output.mime_type": "application/json",
    }
    assert (span.inputs, span.outputs) == ({"question": "why?"}, {"answer": "42"})
    provider.shutdown()


@pytest.mark.parametrize("alone", [True, False])
def test_a_mime_type_the_app_set_on_text_stays(alone: bool) -> None:
    provider = sole_provider()
    if not alone:
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))

    @genai_trace.trace
    def render() -> str:
        genai_trace.get_current_span().set_attribute("output.mime_type", "text/markdown")
        return "# Title"

    markdown = {"input.mime_type": "text/markdown"}
    with genai_trace.start_span("page", inputs="# Doc", attributes=markdown):
        render()
    genai_trace.flush()
    (trace,) = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    page, rendered = trace.spans
    assert page.attributes["input.mime_type"] == "text/markdown"
    assert rendered.attributes["output.mime_type"] == "text/markdown"
    assert (page.inputs, rendered.outputs) == ("# Doc", "# Title")
    provider.shutdown()


@pytest.mark.parametrize("alone", [True, False])
@pytest.mark.parametrize(
    ("draft", "final", "mime_type"),
    [({"draft": 1}, "final answer", "text/plain"), ("draft", {"final": 2}, "application/json")],
)
def test_the_returned_output_replaces_the_type_set_outputs_left(
    alone: bool, draft: Any, final: Any, mime_type: str
) -> None:
    provider = sole_provider()
    app = InMemorySpanExporter()
    if not alone:
        provider.add_span_processor(SimpleSpanProcessor(app))

    @genai_trace.trace
    def answer() -> Any:
        genai_trace.get_current_span().set_outputs(draft)
        return final

    answer()
    client = genai_trace.TraceClient()
    root = client.start_trace("turn")
    root.set_outputs(draft)
    client.end_trace(trace_id=root.trace_id, outputs=final)
    genai_trace.flush()
    traces = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    assert [(t.spans[0].outputs, t.spans[0].attributes["output.mime_type"]) for t in traces] == [
        (final, mime_type)
    ] * 2
    if not alone:
        seen = [(s.attributes or {})["output.mime_type"] for s in app.get_finished_spans()]
        assert seen == [mime_type] * 2
    provider.shutdown()


def test_the_sdks_own_length_limit_cannot_cut_a_payload_that_waits() -> None:
    # The SDK cuts values past max_attribute_length before any processor sees them; a cut
    # JSON payload would no longer parse, and its secret keys would go out. Such payloads
    # are redacted as they are recorded.
    provider = sole_provider(span_limits=SpanLimits(max_attribute_length=60))

    @genai_trace.trace
    def login(form: dict[str, str]) -> None:
        return None

    login({"password": "hunter2-very-secret", "note": "x" * 40})
    genai_trace.flush()
    (trace,) = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    recorded = trace.spans[0].attributes["input.value"]
    assert "hunter2" not in recorded and len(recorded) <= 60
    provider.shutdown()


@pytest.mark.parametrize("ending", ["GenAISpan.end", "use_span(end_on_exit=True)"])
def test_every_way_of_ending_a_span_redacts_what_waited_for_a_new_processor(ending: str) -> None:
    provider = sole_provider()
    app = InMemorySpanExporter()
    if ending == "GenAISpan.end":
        with genai_trace.start_span("step", inputs=f"key {OPENAI_KEY}") as span:
            provider.add_span_processor(SimpleSpanProcessor(app))
            span.end()
    else:
        client = genai_trace.TraceClient()
        root = client.start_trace("turn", inputs=f"key {OPENAI_KEY}")
        provider.add_span_processor(SimpleSpanProcessor(app))
        with genai_trace.use_span(root, end_on_exit=True):
            pass
    (seen,) = app.get_finished_spans()
    assert (seen.attributes or {})["input.value"] == "key [REDACTED:api_key]"
    provider.shutdown()


def test_a_user_redactor_runs_once_per_value_on_every_path() -> None:
    calls: list[str] = []

    def mark(key: str | None, text: str) -> str:
        calls.append(text)
        return f"<{text}>"

    provider = sole_provider(redact=mark, max_payload_chars=100)
    app = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(app))
    client = genai_trace.TraceClient()
    root = client.start_trace("turn", inputs="hello")
    client.end_trace(trace_id=root.trace_id, outputs="y" * 300)  # cut: redacted, then cut
    genai_trace.flush()
    (trace,) = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    assert trace.spans[0].inputs == "<hello>"
    assert trace.spans[0].outputs.startswith("<yyy") and "<<" not in trace.spans[0].outputs
    assert calls.count("hello") == 1
    provider.shutdown()


def test_a_payload_that_waited_stays_within_max_payload_chars_once_redacted() -> None:
    provider = sole_provider(max_payload_chars=64)

    @genai_trace.trace
    def ask(pwd: str, token: str) -> None:
        return None

    ask("abc", "def")  # fits whole raw (29 chars); "[REDACTED]" twice would not
    genai_trace.flush()
    (trace,) = sole_provider.exporter.get_finished_traces()  # type: ignore[attr-defined]
    recorded = trace.spans[0].attributes["input.value"]
    assert len(recorded) <= 64 and "abc" not in recorded and "def" not in recorded
    provider.shutdown()


def test_spans_still_open_when_their_trace_times_out_are_redacted_and_forgotten() -> None:
    provider = sole_provider(trace_timeout_s=60.0)
    from genai_trace._runtime import state as _runtime

    with genai_trace.start_span("slow", inputs=f"key {OPENAI_KEY}"):
        runtime = _runtime.current()
        assert runtime is not None
        assert runtime.assembler.sweep(now=1e12) == 1  # exported incomplete, span still open
        genai_trace.flush()
    exported = json.dumps(
        [t.to_dict() for t in sole_provider.exporter.get_finished_traces()],  # type: ignore[attr-defined]
        default=str,
    )
    assert OPENAI_KEY not in exported and "[REDACTED:api_key]" in exported
    provider.shutdown()
