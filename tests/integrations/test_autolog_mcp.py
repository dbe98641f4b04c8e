"""autolog("mcp"): a tool call is one trace across a real MCP client and server process.

The client runs here; the server (``tests/helpers/apps/mcp_server.py``) is a real ``mcp``
server in its own process, launched over stdio by the SDK's ``stdio_client`` or serving
streamable HTTP on 127.0.0.1. Both sides use genai-trace with ``autolog("mcp")``; the
server's part of the trace is read back from its local store.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

import genai_trace
from genai_trace import Trace
from genai_trace.integrations import _mcp
from genai_trace.store import TraceReader, TraceStoreError
from genai_trace.testing import capture_traces
from tests.helpers.genai_support import assert_within
from tests.helpers.paths import REPO_ROOT
from tests.helpers.trace_shape import only, span_tree

SERVER = "tests.helpers.apps.mcp_server"
READ_TIMEOUT_S = 30.0


@pytest.fixture(autouse=True)
def mcp_autolog() -> Iterator[None]:
    assert genai_trace.autolog("mcp") == ["mcp"]
    yield
    genai_trace.autolog("mcp", disable=True)


def server_env(db: Path) -> dict[str, str]:
    return {
        "GENAI_TRACE_DB": str(db),
        "PYTHONPATH": str(REPO_ROOT),
        "GENAI_TRACE_RAISE_INTERNAL_ERRORS": "1",
    }


@asynccontextmanager
async def over_stdio(db: Path) -> AsyncIterator[ClientSession]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", SERVER, "stdio"], env=server_env(db), cwd=REPO_ROOT
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()  # else call_tool lists them (a span) to check its result
        yield session


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def over_http(db: Path) -> AsyncIterator[ClientSession]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", SERVER, "streamable-http", str(port)],
        env={**os.environ, **server_env(db)},
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, process)
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            streamable_http_client(url) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await session.list_tools()
            yield session
    finally:
        process.terminate()
        process.wait(timeout=READ_TIMEOUT_S)


def wait_for_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READ_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, "the MCP server exited"
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"the MCP server did not listen on {port}")


def server_part(db: Path, trace_id: str) -> Trace:
    """The server's part of the trace, once its store holds it."""
    deadline = time.monotonic() + READ_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            trace = TraceReader(str(db)).get(trace_id) if db.exists() else None
        except TraceStoreError:  # the server is creating the store's tables right now
            trace = None
        if trace is not None:
            return trace
        time.sleep(0.05)
    raise AssertionError(f"the server stored no part of trace {trace_id}")


def wire_result(text: str, structured: Any) -> dict[str, Any]:
    return {
        "content": [{"type": "text", "text": text}],
        "structuredContent": {"result": structured},
        "isError": False,
    }


@pytest.mark.parametrize("transport", [over_stdio, over_http], ids=["stdio", "streamable-http"])
async def test_a_tool_call_is_one_trace_across_client_and_server(
    tmp_path: Path, transport: Any
) -> None:
    db = tmp_path / "server.db"
    async with transport(db) as session:

        @genai_trace.trace
        async def agent(question: str) -> int:
            result = await session.call_tool("add", {"a": 2, "b": 3})
            return int(result.structured_content["result"])

        with capture_traces() as traces, genai_trace.context(session_id="s-7", user_id="ada"):
            assert await agent("2 + 3?") == 5
        client = only(traces)
        server = server_part(db, client.info.trace_id)  # read while the server runs

    assert span_tree(client) == [(0, "agent", "CHAIN"), (1, "tools/call add", "TOOL")]
    call = client.get_span("tools/call add")
    assert call is not None
    assert_within(client.root, call)
    assert call.inputs == {"a": 2, "b": 3}
    # The client's SDK adds the result's type when it validates what came back.
    assert call.outputs == {**wire_result("5", 5), "resultType": "complete"}
    assert call.attributes["gen_ai.operation.name"] == "execute_tool"
    assert call.attributes["gen_ai.tool.name"] == "add"
    assert call.attributes["mcp.method.name"] == "tools/call"
    assert call.attributes["jsonrpc.request.id"].isdigit()  # the SDK's attribute, on our span

    assert server.info.trace_id == client.info.trace_id
    assert span_tree(server) == [(0, "tools/call add", "TOOL"), (1, "sum", "CHAIN")]
    handled = server.root
    assert handled.parent_id == call.span_id  # the server span's parent is the client's call
    assert handled.inputs == {"a": 2, "b": 3}
    assert handled.outputs == wire_result("5", 5)
    assert handled.attributes["gen_ai.tool.name"] == "add"
    assert handled.attributes["mcp.method.name"] == "tools/call"
    assert handled.instrumentation_scope == "mcp-python-sdk"
    assert (server.info.session_id, server.info.user_id) == ("s-7", "ada")
    assert (client.info.session_id, client.info.user_id) == ("s-7", "ada")


async def test_a_failing_tool_is_an_error_on_both_sides(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    async with over_stdio(db) as session:
        with capture_traces() as traces:
            result = await session.call_tool("fail", {"reason": "no luck"})
        client = only(traces)
        server = server_part(db, client.info.trace_id)
    assert result.is_error
    call = client.root
    assert (call.name, call.span_type, call.status) == ("tools/call fail", "TOOL", "ERROR")
    assert call.outputs["isError"] is True
    assert server.root.parent_id == call.span_id
    assert server.root.status == "ERROR"
    assert server.root.attributes["error.type"] == "tool_error"


async def test_changed_sdk_internals_leave_calls_working_and_warn_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    genai_trace.autolog("mcp", disable=True)
    monkeypatch.setattr(_mcp, "_SERVER_OTEL", "mcp.server._otel_renamed_in_a_later_release")
    with caplog.at_level(logging.WARNING, logger="genai_trace"):
        assert genai_trace.autolog("mcp") == ["mcp"]
    (warning,) = [r.getMessage() for r in caplog.records if "autolog('mcp')" in r.getMessage()]
    assert "MCP calls keep only the SDK's own spans" in warning
    async with over_stdio(tmp_path / "server.db") as session:
        with capture_traces() as traces, genai_trace.start_span("agent"):
            result = await session.call_tool("add", {"a": 1, "b": 1})
    assert result.structured_content == {"result": 2}
    assert span_tree(only(traces)) == [
        (0, "agent", "CHAIN"),
        (1, "MCP send tools/call add", "UNKNOWN"),
    ]


def test_disable_puts_the_sdk_back() -> None:
    from mcp.client.session import ClientSession as Session
    from mcp.shared import jsonrpc_dispatcher

    hooked = (Session.call_tool, jsonrpc_dispatcher.otel_span)
    assert genai_trace.autolog("mcp") == ["mcp"]  # again: the hooks stay as they are
    assert genai_trace.autolog("mcp", disable=True) == ["mcp"]
    assert Session.call_tool is not hooked[0]
    assert jsonrpc_dispatcher.otel_span is not hooked[1]
    assert jsonrpc_dispatcher.otel_span.__module__ == "mcp.shared._otel"
