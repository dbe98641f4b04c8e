"""The end-to-end bench's instrument: its receiver decodes and counts, its rows check delivery.

The numbers the bench reports are only as good as these two facts: the receiver counts the
spans a real OTLP exporter sent (and refuses what does not decode), and a row reports spans
that did not arrive (or arrived at a destination it should not use).
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from bench._harness import receiver, row_env_with_repo

REPO = Path(__file__).resolve().parent.parent


def _stats(url: str) -> dict[str, int]:
    with urllib.request.urlopen(url + "/stats", timeout=10) as response:
        counts: dict[str, int] = json.load(response)
    return counts


def test_receiver_counts_spans_and_traces_an_official_exporter_sent() -> None:
    with receiver() as url:
        provider = TracerProvider()
        provider.add_span_processor(
            SimpleSpanProcessor(OTLPSpanExporter(endpoint=url + "/v1/traces"))
        )
        tracer = provider.get_tracer("test")
        with tracer.start_as_current_span("root"):
            with tracer.start_as_current_span("child"):
                pass
            with tracer.start_as_current_span("child"):
                pass
        provider.shutdown()
        counts = _stats(url)
    assert (counts["spans"], counts["traces"], counts["requests"]) == (3, 1, 3)
    assert counts["rejected"] == 0


def test_receiver_refuses_a_body_that_is_not_otlp() -> None:
    with receiver() as url:
        request = urllib.request.Request(
            url + "/v1/traces",
            data=b"\xff\xff not protobuf",
            headers={"Content-Type": "application/x-protobuf"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        refused.value.close()
        counts = _stats(url)
    assert refused.value.code == 400
    assert (counts["spans"], counts["rejected"]) == (0, 1)


@pytest.mark.parametrize("row", ["floor", "genai_otlp", "genai_store"])
def test_a_row_delivers_every_span_and_says_so(row: str, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    with receiver() as url:
        command = [sys.executable, "-m", "bench._e2e", row, "11", url, str(out)]
        subprocess.run(
            [*command, "--spans", "220", "--reps", "1"],
            cwd=tmp_path,
            env=row_env_with_repo(row, url),
            check=True,
            timeout=120,
        )
        counts = _stats(url)
    result = json.loads(out.read_text())
    assert result["status"] == "ok", result
    assert (result["lost_spans"], result["extra_spans"]) == (0, 0)
    assert result["spans_per_rep"] == 220
    # 22 warm-up spans (a tenth of the calls) plus the repetition's 220.
    assert counts["spans"] == (0 if row == "genai_store" else 242)
    assert result["cpu_us"] > 0 and result["wall_us"] > 0 and result["caller_us"] > 0
