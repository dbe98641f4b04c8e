"""Automatic tracing of LLM client libraries, and the reading of GenAI spans they emit.

``genai_trace.autolog()`` turns on the official OpenTelemetry GenAI instrumentations
(OpenAI, Anthropic, LangChain) in genai-trace's TracerProvider; the trace builder reads the
``gen_ai.*`` attributes of their spans, and of any other GenAI instrumentation's.

Example:
    >>> import genai_trace
    >>> genai_trace.autolog("openai")
    ['openai']
"""

from __future__ import annotations

from genai_trace.integrations._autolog import autolog
from genai_trace.integrations._registry import Integration, integrations

__all__ = ["Integration", "autolog", "integrations"]
