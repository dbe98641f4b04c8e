"""A real MCP server that uses genai-trace, for the two-process MCP tests.

Run as ``python -m tests.helpers.apps.mcp_server stdio`` (the client launches it over
stdio) or ``... streamable-http PORT`` (it serves MCP at ``http://127.0.0.1:PORT/mcp``).
Its traces go to the local store named by ``GENAI_TRACE_DB``, where the caller reads the
server's part of each trace. Its tool ``add`` opens a span of its own inside the handler;
``fail`` raises, which the SDK turns into an error result.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer

import genai_trace
from genai_trace import SpanType

server = MCPServer("calculator")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    with genai_trace.start_span("sum", span_type=SpanType.CHAIN, inputs={"a": a, "b": b}) as span:
        span.set_outputs(a + b)
    return a + b


@server.tool()
def fail(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


def main(argv: list[str]) -> None:
    assert genai_trace.autolog("mcp") == ["mcp"]
    if argv[0] == "stdio":
        server.run("stdio")
    else:
        server.run("streamable-http", host="127.0.0.1", port=int(argv[1]))


if __name__ == "__main__":
    main(sys.argv[1:])
