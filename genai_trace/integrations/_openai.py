"""OpenAI: chat completions (sync, async, streaming), the Responses API and embeddings."""

from __future__ import annotations

from genai_trace.integrations._registry import Integration

INTEGRATION = Integration(
    name="openai",
    client_module="openai",
    client_package="openai",
    instrumentor="opentelemetry.instrumentation.genai.openai:OpenAIInstrumentor",
    instrumentation_package="opentelemetry-instrumentation-genai-openai",
)
