from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import genai_trace
from tests.helpers.reliability.faults import Child, FaultyBackend


@pytest.fixture
def backend() -> Iterator[FaultyBackend]:
    """A misbehaving OTLP backend; at the end, released and genai-trace shut down first."""
    server = FaultyBackend().start()
    try:
        yield server
    finally:
        server.release.set()
        genai_trace.shutdown(timeout_s=10)
        server.stop()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Start child scripts in ``tmp_path``; every one is killed (group and all) at the end."""
    started: list[Child] = []

    def start(script: str, env: dict[str, str] | None = None) -> Child:
        child = Child(script, tmp_path, env)
        started.append(child)
        return child

    try:
        yield start
    finally:
        for child in started:
            child.kill()
