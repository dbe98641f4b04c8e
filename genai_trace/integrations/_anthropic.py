"""Anthropic: the Messages API, through the official OpenTelemetry instrumentation."""

from __future__ import annotations

from genai_trace.integrations._registry import Integration

INTEGRATION = Integration(
    name="anthropic",
    client_module="anthropic",
    client_package="anthropic",
    instrumentor="opentelemetry.instrumentation.genai.anthropic:AnthropicInstrumentor",
    instrumentation_package="opentelemetry-instrumentation-genai-anthropic",
    # Recent SDKs trace their own API calls too: beside the instrumentation's chat span,
    # each call would be a second chat span ("anthropic.messages.create") inside it.
    # The SDK reads this when a client is made: it covers clients made after autolog().
    environment=(("ANTHROPIC_OPEN_TELEMETRY", "false"),),
)
