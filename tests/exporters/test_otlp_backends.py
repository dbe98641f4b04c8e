"""genai-trace -> OTLP -> a real backend, read back: Phoenix (HTTP, gRPC, through rotel), MLflow.

Each test runs decorated functions (CHAIN -> RETRIEVER + LLM) with an OTLPTraceExporter
configured, flushes, and reads the trace back from the server's own API: the span tree,
each span's type as the backend reports it, inputs and outputs, token counts and the
trace-level tags, previews, session and user.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import genai_trace
from genai_trace import Trace
from genai_trace.exporters.otlp import OTLPTraceExporter
from genai_trace.store import SQLiteTraceStore
from tests.helpers.apps.rag_app import (
    CLIENT_REQUEST_ID,
    DOCS,
    MESSAGES,
    QUESTION,
    REPLY,
    RESPONSE_PREVIEW,
    TAGS,
    answer,
)
from tests.helpers.backends import HttpError, MlflowServer, PhoenixServer, RotelCollector, free_port

pytest_plugins = ["tests.helpers.backends"]
# Needs Phoenix, MLflow and rotel: `pytest -m 'not backend'` leaves this module out.
pytestmark = pytest.mark.backend

SERVICE = "genai-trace-e2e"


@pytest.fixture(autouse=True)
def back_to_memory() -> Iterator[None]:
    yield
    genai_trace.configure(exporters=[])  # shuts the OTLP exporters of the test down


def send(exporter: OTLPTraceExporter, **settings: Any) -> Trace:
    """Run the app once with ``exporter`` as the only destination; the trace as we built it."""
    genai_trace.configure(exporters=[exporter], **settings)
    with genai_trace.context(session_id="session-1", user_id="user-1"):
        assert answer(QUESTION) == REPLY["content"]
    trace_id = genai_trace.get_last_trace_id()
    assert trace_id is not None
    assert genai_trace.flush(30)
    trace = genai_trace.get_trace(trace_id)
    assert trace is not None
    (counts,) = genai_trace.stats()["destinations"].values()
    assert counts == {"exported": 1, "failed": 0, "dropped": 0}
    return trace


def ids(trace: Trace) -> dict[str, str]:
    return {span.name: span.span_id for span in trace.spans}


# --- Phoenix -----------------------------------------------------------------------------


def assert_phoenix_has(phoenix: PhoenixServer, trace: Trace, project: str) -> None:
    spans = {s["name"]: s for s in phoenix.spans(trace.info.trace_id, project, expect=3)}
    assert sorted(spans) == ["answer", "complete", "retrieve"]
    span_ids = ids(trace)
    for name, span in spans.items():
        assert span["context"] == {"trace_id": trace.info.trace_id, "span_id": span_ids[name]}
    assert spans["answer"]["parent_id"] is None
    assert spans["retrieve"]["parent_id"] == spans["complete"]["parent_id"] == span_ids["answer"]
    kinds = {name: span["span_kind"] for name, span in spans.items()}
    assert kinds == {"answer": "CHAIN", "retrieve": "RETRIEVER", "complete": "LLM"}

    root, retriever, llm = (spans[n]["attributes"] for n in ("answer", "retrieve", "complete"))
    assert json.loads(root["input.value"]) == {"question": QUESTION}
    assert root["output.value"] == REPLY["content"]  # a plain string, not JSON-quoted
    assert json.loads(retriever["input.value"]) == {"query": QUESTION}
    assert json.loads(retriever["output.value"]) == DOCS
    assert json.loads(llm["input.value"]) == {"messages": MESSAGES}
    assert json.loads(llm["output.value"]) == REPLY
    tokens = {k: llm[f"llm.token_count.{k}"] for k in ("prompt", "completion", "total")}
    assert tokens == {"prompt": 12, "completion": 7, "total": 19}

    # Trace-level facts on the root span, native types. Phoenix flattens the JSON metadata.
    expected_root = {
        "session.id": "session-1",
        "user.id": "user-1",
        "tag.tags": ["env=test", "team=rag"],
        "genai_trace.tag.env": "test",
        "genai_trace.tag.team": "rag",
        "metadata.release": "1.2",
        "metadata.n": 3,
        "genai_trace.trace.request_preview": QUESTION,
        "genai_trace.trace.response_preview": RESPONSE_PREVIEW,
        "genai_trace.trace.client_request_id": CLIENT_REQUEST_ID,
        "genai_trace.trace.state": "OK",
        "genai_trace.trace.span_count": 3,
        "genai_trace.trace.complete": True,
        "genai_trace.trace.input_tokens": 12,
        "genai_trace.trace.output_tokens": 7,
        "genai_trace.trace.total_tokens": 19,
    }
    assert {k: root.get(k) for k in expected_root} == expected_root


def test_phoenix_over_http_files_the_trace_under_the_exporters_project(
    phoenix: PhoenixServer,
) -> None:
    exporter = OTLPTraceExporter(phoenix.base_url, service_name=SERVICE, project_name="e2e-http")
    assert exporter.resource.attributes["service.name"] == SERVICE
    trace = send(exporter)
    assert_phoenix_has(phoenix, trace, "e2e-http")
    assert phoenix.spans(trace.info.trace_id, "default", expect=0) == []


def test_phoenix_over_grpc_takes_the_project_from_configure(phoenix: PhoenixServer) -> None:
    exporter = OTLPTraceExporter(f"http://{phoenix.otlp_grpc_endpoint}", protocol="grpc")
    trace = send(exporter, project_name="e2e-grpc")
    assert_phoenix_has(phoenix, trace, "e2e-grpc")


def test_phoenix_through_the_rotel_collector(
    rotel_to_phoenix: RotelCollector, phoenix: PhoenixServer
) -> None:
    exporter = OTLPTraceExporter(rotel_to_phoenix.otlp_http_endpoint, project_name="e2e-rotel")
    trace = send(exporter)
    assert_phoenix_has(phoenix, trace, "e2e-rotel")  # the resource survives the hop


# --- MLflow ------------------------------------------------------------------------------


def assert_mlflow_spans(mlflow_server: MlflowServer, trace: Trace) -> None:
    spans = {s["name"]: s for s in mlflow_server.spans(trace.info.trace_id, expect=3)}
    assert sorted(spans) == ["answer", "complete", "retrieve"]
    span_ids = ids(trace)
    assert {s["trace_id"] for s in spans.values()} == {trace.info.trace_id}
    assert {name: s["span_id"] for name, s in spans.items()} == span_ids
    assert spans["answer"]["parent_id"] is None
    assert spans["retrieve"]["parent_id"] == spans["complete"]["parent_id"] == span_ids["answer"]
    types = {name: s["span_type"] for name, s in spans.items()}
    assert types == {"answer": "CHAIN", "retrieve": "RETRIEVER", "complete": "LLM"}
    inputs = {name: s["attributes"]["mlflow.spanInputs"] for name, s in spans.items()}
    assert inputs == {
        "answer": {"question": QUESTION},
        "retrieve": {"query": QUESTION},
        "complete": {"messages": MESSAGES},
    }
    outputs = {name: s["attributes"]["mlflow.spanOutputs"] for name, s in spans.items()}
    assert outputs == {"answer": REPLY["content"], "retrieve": DOCS, "complete": REPLY}
    usage = spans["complete"]["attributes"]["mlflow.chat.tokenUsage"]
    assert usage == {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}


def test_mlflow_dialect_gives_mlflow_our_types_payloads_tags_previews_and_metadata(
    mlflow_server: MlflowServer,
) -> None:
    exporter = OTLPTraceExporter(
        mlflow_server.base_url,
        dialect="mlflow",
        headers=mlflow_server.headers,
        service_name=SERVICE,
    )
    trace = send(exporter)
    assert_mlflow_spans(mlflow_server, trace)
    info = mlflow_server.trace(trace.info.trace_id, expect_spans=3)["trace_info"]
    assert info["trace_id"] == f"tr-{trace.info.trace_id}"
    assert info["state"] == "OK"
    assert info["request_preview"] == QUESTION  # ours, not MLflow's JSON of the root inputs
    assert info["response_preview"] == RESPONSE_PREVIEW
    assert info["client_request_id"] == CLIENT_REQUEST_ID
    tags = info["tags"]
    assert {k: tags.get(k) for k in (*TAGS, "mlflow.traceName", "service.name")} == {
        **TAGS,
        "mlflow.traceName": "answer",
        "service.name": SERVICE,  # MLflow turns resource attributes into tags
    }
    metadata = info["trace_metadata"]
    assert {k: metadata.get(k) for k in ("release", "n")} == {"release": "1.2", "n": "3"}
    assert metadata["mlflow.trace.session"] == "session-1"
    assert metadata["mlflow.trace.user"] == "user-1"
    usage = json.loads(metadata["mlflow.trace.tokenUsage"])
    assert usage == {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}
    found = [i["trace_id"] for i in mlflow_server.search_traces(filter_string="tags.env = 'test'")]
    assert f"tr-{trace.info.trace_id}" in found


def wait_for_mlflow_spans(
    mlflow_server: MlflowServer, trace_id: str, timeout_s: float = 15
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            found = mlflow_server.fetch_trace(trace_id)
        except HttpError as error:
            if error.status != 500 or time.monotonic() > deadline:
                raise
        else:
            if found is not None and len(found.get("spans") or []) >= 3:
                return
            assert time.monotonic() < deadline, f"MLflow has no spans of {trace_id}"
        time.sleep(0.1)


def test_mlflow_dialect_through_a_collector_sends_the_trace_info_to_mlflow_itself(
    rotel_to_mlflow: RotelCollector, mlflow_server: MlflowServer
) -> None:
    exporter = OTLPTraceExporter(
        rotel_to_mlflow.otlp_http_endpoint,
        dialect="mlflow",
        headers=mlflow_server.headers,
        mlflow_trace_info=mlflow_server.base_url,
    )
    trace = send(exporter)
    # rotel forwards the spans in its own time, so the trace info may arrive first; MLflow
    # then answers 500 "Trace data not stored" until the spans are in.
    wait_for_mlflow_spans(mlflow_server, trace.info.trace_id)
    assert_mlflow_spans(mlflow_server, trace)
    info = mlflow_server.trace(trace.info.trace_id, expect_spans=3)["trace_info"]
    assert (info["request_preview"], info["response_preview"]) == (QUESTION, RESPONSE_PREVIEW)
    assert {k: info["tags"].get(k) for k in TAGS} == TAGS


def test_mlflow_spans_only_carry_tags_session_and_user_but_not_previews(
    mlflow_server: MlflowServer,
) -> None:
    exporter = OTLPTraceExporter(
        mlflow_server.base_url, dialect="mlflow", headers=mlflow_server.headers,
        mlflow_trace_info=False,
    )  # fmt: skip
    trace = send(exporter)
    assert_mlflow_spans(mlflow_server, trace)
    info = mlflow_server.trace(trace.info.trace_id, expect_spans=3)["trace_info"]
    assert {k: info["tags"].get(k) for k in TAGS} == TAGS  # mlflow.traceTag.* on the root
    metadata = info["trace_metadata"]
    assert (metadata["mlflow.trace.session"], metadata["mlflow.trace.user"]) == (
        "session-1",
        "user-1",
    )
    # MLflow computes the previews from the root's inputs and outputs itself.
    assert json.loads(info["request_preview"]) == {"question": QUESTION}
    assert json.loads(info["response_preview"]) == REPLY["content"]
    assert "client_request_id" not in info and "release" not in metadata


def test_default_dialect_in_mlflow_types_payloads_session_and_tokens_but_no_tags(
    mlflow_server: MlflowServer,
) -> None:
    """MLflow translates the open conventions; tags, custom metadata and previews need the
    mlflow dialect."""
    exporter = OTLPTraceExporter(mlflow_server.base_url, headers=mlflow_server.headers)
    trace = send(exporter)
    assert_mlflow_spans(mlflow_server, trace)  # translated from OpenInference keys
    info = mlflow_server.trace(trace.info.trace_id, expect_spans=3)["trace_info"]
    metadata = info["trace_metadata"]
    assert (metadata["mlflow.trace.session"], metadata["mlflow.trace.user"]) == (
        "session-1",
        "user-1",
    )
    usage = json.loads(metadata["mlflow.trace.tokenUsage"])
    assert usage == {"input_tokens": 12, "output_tokens": 7, "total_tokens": 19}
    assert not set(TAGS) & set(info["tags"])  # missing: tag.tags is not read
    assert "release" not in metadata and "client_request_id" not in info  # missing
    assert json.loads(info["request_preview"]) == {"question": QUESTION}  # MLflow's own


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_a_closed_port_counts_a_failure_and_never_reaches_the_app(protocol: str) -> None:
    exporter = OTLPTraceExporter(
        f"http://127.0.0.1:{free_port()}", protocol=protocol, timeout_s=1.0
    )
    send_failing(exporter)


def send_failing(exporter: OTLPTraceExporter) -> Trace:
    genai_trace.configure(exporters=[exporter])
    assert answer(QUESTION) == REPLY["content"]  # no exception reaches the app
    trace_id = genai_trace.get_last_trace_id()
    assert trace_id is not None and genai_trace.flush(30)
    (counts,) = genai_trace.stats()["destinations"].values()
    assert counts == {"exported": 0, "failed": 1, "dropped": 0}
    trace = genai_trace.get_trace(trace_id)
    assert trace is not None
    return trace


def test_mlflow_trace_info_that_cannot_be_sent_counts_a_failure(
    mlflow_server: MlflowServer,
) -> None:
    exporter = OTLPTraceExporter(
        mlflow_server.base_url,
        dialect="mlflow",
        headers=mlflow_server.headers,
        mlflow_trace_info=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        timeout_s=1.0,
    )
    trace = send_failing(exporter)
    assert_mlflow_spans(mlflow_server, trace)  # the spans went through all the same


# --- set-up ------------------------------------------------------------------------------


def test_the_exporter_refuses_bad_settings_loudly() -> None:
    with pytest.raises(ValueError, match="protocol must be one of"):
        OTLPTraceExporter("http://127.0.0.1:1", protocol="http/json")
    with pytest.raises(ValueError, match="x-mlflow-experiment-id"):
        OTLPTraceExporter("http://127.0.0.1:1", dialect="mlflow")
    with pytest.raises(ValueError, match="MLflow takes OTLP over HTTP only"):
        OTLPTraceExporter(
            "http://127.0.0.1:1",
            protocol="grpc",
            dialect="mlflow",
            headers={"x-mlflow-experiment-id": "0"},
        )
    OTLPTraceExporter("http://127.0.0.1:1", dialect="mlflow", mlflow_trace_info=False).shutdown()


def test_the_resource_comes_from_the_provider_with_our_overrides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exporter = OTLPTraceExporter("http://127.0.0.1:1")
    genai_trace.configure(exporters=[exporter], project_name="from-configure")
    attributes = dict(exporter.resource.attributes)
    assert attributes["openinference.project.name"] == "from-configure"
    assert "service.name" in attributes
    named = OTLPTraceExporter("http://127.0.0.1:1", service_name="svc", project_name="proj")
    genai_trace.configure(exporters=[named], project_name="ignored")
    assert named.resource.attributes["service.name"] == "svc"
    assert named.resource.attributes["openinference.project.name"] == "proj"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-mlflow-experiment-id=5")
    from_env = OTLPTraceExporter("http://127.0.0.1:1/v1/traces", dialect="mlflow")
    assert from_env._mlflow is not None
    assert from_env._mlflow.experiment_id == "5"
    assert from_env._mlflow.url == "http://127.0.0.1:1/api/3.0/mlflow/traces"
    from_env.shutdown()  # the others were shut down by configure()


def test_cli_send_replays_stored_traces_to_a_real_backend(
    phoenix: PhoenixServer, tmp_path: Path
) -> None:
    db = tmp_path / "traces.db"
    genai_trace.configure(exporters=[SQLiteTraceStore(db)])
    with genai_trace.context(session_id="session-1", user_id="user-1"):
        answer(QUESTION)
    assert genai_trace.flush(30)
    stored = SQLiteTraceStore(db)
    (info,) = stored.search()
    trace = stored.get(info.trace_id)
    assert trace is not None
    result = subprocess.run(
        [sys.executable, "-m", "genai_trace.cli", "--db", str(db), "send",
         "--endpoint", phoenix.base_url, "--name", "answer"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sent 1 trace(s) to {phoenix.base_url}"
    assert_phoenix_has(phoenix, trace, "default")
