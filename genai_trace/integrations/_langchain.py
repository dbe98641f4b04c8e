"""LangChain: chains, chat models, tools and agents, through the official instrumentation."""

from __future__ import annotations

from genai_trace.integrations._registry import Integration

INTEGRATION = Integration(
    name="langchain",
    client_module="langchain",
    client_package="langchain",
    instrumentor="opentelemetry.instrumentation.genai.langchain:LangChainInstrumentor",
    instrumentation_package="opentelemetry-instrumentation-genai-langchain",
)
