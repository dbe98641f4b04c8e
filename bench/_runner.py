"""Runs one scenario in this (fresh) interpreter and writes its result as JSON.

Invoked by ``python -m bench`` as ``python -m bench._runner NAME OUT_PATH [--quick]``; the
result goes to a file rather than stdout, so whatever a library prints cannot corrupt it.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any

from bench._registry import SCENARIOS, Scenario
from bench._timing import FULL, QUICK, Plan, calls_made, summary, time_calls


def peer(name: str, plan: Plan, shape: str) -> dict[str, Any]:
    from bench import _peers, _sinks, _workload

    _peers.apply_quiet_env()
    try:
        decorate, flush = _peers.PEERS[name]()
    except ImportError as exc:
        return {"status": "skipped", "reason": f"not installed ({exc.name or exc})"}
    make, spans = _workload.SHAPES[shape]
    plan = plan.for_spans(spans)
    result = summary(time_calls(make(decorate), plan, flush), spans)
    flush()
    result["version"] = _version(name)
    result["spans_expected"] = calls_made(plan) * spans
    result["spans_exported"] = _sinks.NoopSpanExporter.exported
    return result


def _version(package: str) -> str | None:
    from importlib import metadata

    for dist in (package, f"{package}-tracing", f"{package}-instrumentation"):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def run(scenario: Scenario, plan: Plan) -> dict[str, Any]:
    module_name, function_name, *rest = scenario.target.split(":")
    if rest:  # "bench._runner:peer:<name>"
        return peer(rest[0], plan, scenario.shape or "1")
    function = getattr(importlib.import_module(module_name), function_name)
    args = (plan,) if scenario.shape is None else (plan, scenario.shape)
    result: dict[str, Any] = function(*args)
    return result


def main(argv: list[str]) -> int:
    name, out_path = argv[0], argv[1]
    plan = QUICK if "--quick" in argv[2:] else FULL
    try:
        result = {"status": "ok", **run(SCENARIOS[name], plan)}
    except Exception as exc:  # report the failure in the table; the other scenarios go on
        traceback.print_exc()
        result = {"status": "error", "reason": f"{type(exc).__name__}: {exc}"}
    result.setdefault("python", sys.version.split()[0])
    with open(out_path, "w", encoding="utf-8") as out:
        json.dump(result, out, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
