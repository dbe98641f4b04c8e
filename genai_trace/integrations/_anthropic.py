"""Anthropic: the Messages API, through the official OpenTelemetry instrumentation."""

from __future__ import annotations

from genai_trace.integrations._registry import Integration

INTEGRATION = Integration(
    name="anthropic",
    client_module="anthropic",
    client_package="anthropic",
    instrumentor="opentelemetry.instrumentation.genai.anthropic:AnthropicInstrumentor",
    instrumentation_package="opentelemetry-instrumentation-genai-anthropic",
)
