"""Integrations that ``autolog`` knows: one OpenTelemetry instrumentation each.

An integration is data, not code: an :class:`Integration` names the client library, the
instrumentor (the official one; genai-trace's own only where none exists, as for MCP) and
the extra that installs them. Adding a framework is adding one
value to :data:`INTEGRATIONS` (and its extra in pyproject.toml).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Integration:
    """An LLM client library and the official instrumentation that traces it."""

    name: str
    """What ``autolog`` calls it, and the genai-trace extra that installs it."""
    client_module: str
    """The client library's import name (``openai``)."""
    client_package: str
    """The client library on PyPI."""
    instrumentor: str
    """``module:Class`` of the official OpenTelemetry instrumentor."""
    instrumentation_package: str
    """The instrumentation on PyPI."""
    environment: tuple[tuple[str, str], ...] = ()
    """``(variable, value)`` pairs ``autolog`` sets while the integration is on, unless the
    user set the variable: how the client library is told to leave tracing to the
    instrumentation."""
    instrument_options: tuple[tuple[str, Any], ...] = ()
    """``(keyword, value)`` pairs passed to the instrumentor's ``instrument()``."""
    instrumentation_module: str = ""
    """The module whose presence means the instrumentation is installed; empty: the
    instrumentor's own (an instrumentor of genai-trace's needs another package's)."""

    @property
    def pip_command(self) -> str:
        """The command that installs what this integration needs."""
        return f'pip install "genai-trace[{self.name}]"'

    def client_installed(self) -> bool:
        """Whether the client library can be imported."""
        return _module_exists(self.client_module)

    def instrumentation_installed(self) -> bool:
        """Whether the official instrumentation can be imported."""
        return _module_exists(self.instrumentation_module or self.instrumentor.partition(":")[0])

    def new_instrumentor(self) -> Any:
        """The instrumentor (a ``BaseInstrumentor`` singleton).

        Raises:
            ImportError: the instrumentation is not installed.
        """
        module_name, _, class_name = self.instrumentor.partition(":")
        return getattr(importlib.import_module(module_name), class_name)()


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing, or a broken install
        return False


INTEGRATIONS = (
    # Chat completions (sync, async, streaming), the Responses API and embeddings.
    Integration(
        name="openai",
        client_module="openai",
        client_package="openai",
        instrumentor="opentelemetry.instrumentation.genai.openai:OpenAIInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-openai",
    ),
    # The Messages API.
    Integration(
        name="anthropic",
        client_module="anthropic",
        client_package="anthropic",
        instrumentor="opentelemetry.instrumentation.genai.anthropic:AnthropicInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-anthropic",
        # Recent SDKs trace their own API calls too: beside the instrumentation's chat span,
        # each call would be a second chat span ("anthropic.messages.create") inside it.
        # The SDK reads this when a client is made: it covers clients made after autolog().
        environment=(("ANTHROPIC_OPEN_TELEMETRY", "false"),),
    ),
    # Chains, chat models, tools and agents.
    Integration(
        name="langchain",
        client_module="langchain",
        client_package="langchain",
        instrumentor="opentelemetry.instrumentation.genai.langchain:LangChainInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-langchain",
    ),
    # The Agents SDK's runs, agents and function tools; its model calls are the openai
    # integration's chat spans.
    Integration(
        name="openai-agents",
        client_module="agents",
        client_package="openai-agents",
        instrumentor="opentelemetry.instrumentation.genai.openai_agents:OpenAIAgentsInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-openai-agents",
        # The SDK's own trace exporter sends every run to OpenAI's servers; while the
        # integration is on, its traces go only to OpenTelemetry (restored on disable).
        instrument_options=(("disable_openai_trace_export", True),),
    ),
    # The Gemini API through Google's Gen AI SDK: generate_content (sync, async, streaming).
    Integration(
        name="google-genai",
        client_module="google.genai",
        client_package="google-genai",
        instrumentor="opentelemetry.instrumentation.google_genai:GoogleGenAiSdkInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-google-genai",
    ),
    # Amazon Bedrock through boto3's bedrock-runtime client: Converse, ConverseStream and
    # InvokeModel.
    Integration(
        name="bedrock",
        client_module="boto3",
        client_package="boto3",
        instrumentor="opentelemetry.instrumentation.genai.bedrock:BedrockInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-bedrock",
    ),
    # Agents, workflows, tools and retrievers; the model calls are traced by the
    # integration of the client the LLM uses (openai, anthropic, bedrock ...).
    Integration(
        name="llama-index",
        client_module="llama_index.core",
        client_package="llama-index-core",
        instrumentor="opentelemetry.instrumentation.genai.llama_index:LlamaIndexInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-llama-index",
    ),
    # DSPy's LM calls, tools, retrievers and ReAct agents.
    Integration(
        name="dspy",
        client_module="dspy",
        client_package="dspy",
        instrumentor="opentelemetry.instrumentation.genai.dspy:DSPyInstrumentor",
        instrumentation_package="opentelemetry-instrumentation-genai-dspy",
    ),
    # MCP tool calls: the client's call and the server's handling as one trace. No official
    # instrumentation exists; the mcp SDK propagates the context itself and genai-trace's
    # own instrumentor adds the tool spans' meaning (integrations/_mcp.py).
    Integration(
        name="mcp",
        client_module="mcp",
        client_package="mcp",
        instrumentor="genai_trace.integrations._mcp:MCPInstrumentor",
        instrumentation_package="opentelemetry-instrumentation",
        instrumentation_module="opentelemetry.instrumentation.instrumentor",
    ),
)
"""Every integration, in the order ``autolog()`` turns them on."""


def integrations() -> dict[str, Integration]:
    """Every integration ``autolog`` knows, by name, in the order it turns them on."""
    return {integration.name: integration for integration in INTEGRATIONS}
