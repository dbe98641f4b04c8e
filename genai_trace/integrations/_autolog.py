"""``genai_trace.autolog``: turn on the official OpenTelemetry GenAI instrumentations.

genai-trace writes no patches of its own where an official instrumentation exists: each
integration is the official instrumentation (``opentelemetry-instrumentation-genai-openai``
...; for MCP, which has none, genai-trace's own in ``_mcp``), set up to emit the current GenAI
conventions into genai-trace's TracerProvider, so its spans nest under ``@trace`` spans and
the TraceAssembler understands them (span type, messages, model, token usage).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from typing import Any

from genai_trace._errors import log_internal_error, logger, warn_once
from genai_trace._runtime import state as _runtime
from genai_trace.integrations._registry import Integration, integrations

CAPTURE_CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The official instrumentations' content switch: ``span_only``, ``event_only``,
``span_and_event`` or ``no_content``."""
SEMCONV_OPT_IN_ENV = "OTEL_SEMCONV_STABILITY_OPT_IN"
GEN_AI_OPT_IN = "gen_ai_latest_experimental"
"""The opt-in value that makes instrumentations emit the current GenAI conventions."""

_CONTENT_ON_SPANS = ("span_only", "span_and_event")

# Guards _active: name -> (instrumentor, provider, content mode) of each integration that
# autolog turned on, and _environment: name -> {variable: value} of the variables autolog
# set for it (Integration.environment). Held across instrument()/uninstrument(), which run
# no user code.
_lock = threading.Lock()
_active: dict[str, tuple[Any, Any, str]] = {}
_environment: dict[str, dict[str, str]] = {}


def autolog(*names: str, capture_content: bool | None = None, disable: bool = False) -> list[str]:
    """Trace LLM client calls automatically, as children of the current span.

    Turns on the official OpenTelemetry GenAI instrumentation of each named client library
    (``"openai"``, ``"anthropic"``, ``"langchain"``, ``"openai-agents"``, ``"google-genai"``,
    ...: the autolog page of the docs lists them all), or, with no names, of every one
    whose client library is installed. Their spans land in the TracerProvider genai-trace
    uses (the app's own, when it has one), so an OpenAI call inside a ``@trace`` function
    becomes a ``CHAT_MODEL`` child span with model, messages, token usage and timing.
    Calling it again is harmless; a changed ``capture_content`` or provider re-instruments.

    Call it after ``genai_trace.configure`` (if you call that) and after your app has set
    up its own OpenTelemetry provider, if it has one: autolog sets genai-trace up.

    Args:
        *names: Integrations to turn on; none means every installed one.
        capture_content: Record prompts and completions (``gen_ai.input.messages``,
            ``gen_ai.output.messages``) on the spans, as ``@trace`` records inputs and
            outputs. ``None`` (the default) keeps a value already set in
            ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` and otherwise captures;
            ``True`` or ``False`` overrides that variable for every GenAI instrumentation
            in the process.
        disable: Turn the named integrations (none: all that autolog turned on) off again.

    Anthropic's SDK traces its own calls too; so that each call is one span, autolog sets
    ``ANTHROPIC_OPEN_TELEMETRY=false`` (unless it is set already), which turns the SDK's
    spans off in the clients made afterwards. ``disable=True`` unsets it again.

    Returns:
        The names of the integrations turned on (or, with ``disable=True``, off).

    Raises:
        ValueError: an unknown integration name.
        TypeError: ``capture_content`` is not a bool or ``None``.
        ImportError: a named integration's client library or instrumentation is missing or
            of a version that does not fit; the message names the pip command.

    Example:
        >>> import genai_trace, openai
        >>> genai_trace.autolog()  # or autolog("openai", capture_content=False)
        ['openai']
        >>> @genai_trace.trace
        ... def answer(question: str) -> str:
        ...     reply = openai.OpenAI().chat.completions.create(
        ...         model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
        ...     )
        ...     return reply.choices[0].message.content
    """
    known = integrations()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"autolog() does not know {', '.join(map(repr, unknown))}; "
            f"known integrations are: {', '.join(known)}"
        )
    if capture_content is not None and not isinstance(capture_content, bool):
        raise TypeError(
            f"autolog(capture_content=...) must be True, False or None, got {capture_content!r}"
        )
    if disable:
        return _disable(list(names))
    chosen = [known[name] for name in names] if names else _installed(known.values())
    for integration in chosen if names else ():
        _check_installed(integration)
    mode = _prepare_environment(capture_content)
    provider = _tracer_provider()
    turned_on = []
    with _lock:
        for integration in chosen:
            if _instrument(integration, provider, mode, explicit=bool(names)):
                _set_environment(integration)
                turned_on.append(integration.name)
    return turned_on


def _installed(candidates: Iterable[Integration]) -> list[Integration]:
    """Integrations whose client library is installed; a missing instrumentation warns."""
    chosen = []
    for integration in candidates:
        if not integration.client_installed():
            continue
        if not integration.instrumentation_installed():
            warn_once(
                f"autolog missing {integration.name}",
                "genai_trace.autolog(): %s is installed but its instrumentation is not, so "
                "its calls are not traced; %s",
                integration.client_package,
                integration.pip_command,
            )
            continue
        chosen.append(integration)
    return chosen


def _check_installed(integration: Integration) -> None:
    missing = [
        package
        for package, installed in (
            (integration.client_package, integration.client_installed()),
            (integration.instrumentation_package, integration.instrumentation_installed()),
        )
        if not installed
    ]
    if missing:
        raise ImportError(
            f"autolog({integration.name!r}) needs {' and '.join(missing)}: "
            f"{integration.pip_command}"
        )


def _prepare_environment(capture_content: bool | None) -> str:
    """Set the variables the official instrumentations read; return the content mode."""
    opt_in = [v.strip() for v in os.environ.get(SEMCONV_OPT_IN_ENV, "").split(",") if v.strip()]
    if GEN_AI_OPT_IN not in opt_in:
        os.environ[SEMCONV_OPT_IN_ENV] = ",".join([*opt_in, GEN_AI_OPT_IN])
    current = os.environ.get(CAPTURE_CONTENT_ENV, "").strip().lower()
    if capture_content is None:
        mode = current or "span_only"  # a value the user set stays
    elif not capture_content:
        mode = "no_content"
    elif current in _CONTENT_ON_SPANS:
        mode = current
    else:
        mode = "span_and_event" if current == "event_only" else "span_only"
    os.environ[CAPTURE_CONTENT_ENV] = mode
    return mode


def _set_environment(integration: Integration) -> None:
    """Set the integration's variables that the user left unset. Holds ``_lock``."""
    ours = _environment.setdefault(integration.name, {})
    for variable, value in integration.environment:
        if variable not in os.environ:
            os.environ[variable] = value
            ours[variable] = value


def _restore_environment(name: str) -> None:
    """Unset what ``_set_environment`` set, where nobody changed it since. Holds ``_lock``."""
    for variable, value in _environment.pop(name, {}).items():
        if os.environ.get(variable) == value:
            del os.environ[variable]


def _tracer_provider() -> Any:
    """genai-trace's provider (set up now if need be), so LLM spans join our traces."""
    runtime = _runtime.get()
    return runtime.provider if runtime is not None else None


def _instrument(integration: Integration, provider: Any, mode: str, explicit: bool) -> bool:
    """Turn one integration on (again, if its provider or mode changed). Holds ``_lock``."""
    instrumentor = integration.new_instrumentor()
    if _active.get(integration.name) == (instrumentor, provider, mode) and (
        instrumentor.is_instrumented_by_opentelemetry
    ):
        return True
    conflict = _dependency_conflict(instrumentor)
    if conflict is not None:
        message = (
            f"autolog({integration.name!r}): {conflict}; install versions that fit: "
            f"{integration.pip_command}"
        )
        if explicit:
            raise ImportError(message)
        warn_once(f"autolog conflict {integration.name}", "genai_trace.%s", message)
        return False
    try:
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        instrumentor.instrument(
            tracer_provider=provider, skip_dep_check=True, **dict(integration.instrument_options)
        )
    except Exception:
        log_internal_error(f"autolog {integration.name}")
        return False
    _active[integration.name] = (instrumentor, provider, mode)
    logger.debug("genai_trace.autolog: %s instrumented (content: %s)", integration.name, mode)
    return True


def _dependency_conflict(instrumentor: Any) -> str | None:
    from opentelemetry.instrumentation.dependencies import get_dependency_conflicts

    conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
    return None if conflict is None else str(conflict)


def _disable(names: list[str]) -> list[str]:
    turned_off = []
    with _lock:
        for name in names or list(_active):
            entry = _active.pop(name, None)
            if entry is None:
                continue
            instrumentor = entry[0]
            try:
                if instrumentor.is_instrumented_by_opentelemetry:
                    instrumentor.uninstrument()
            except Exception:
                log_internal_error(f"autolog disable {name}")
                continue
            _restore_environment(name)
            turned_off.append(name)
    return turned_off
