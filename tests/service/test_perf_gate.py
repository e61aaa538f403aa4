"""The perf gate's verdict: passes within the ratio, fails on a large regression or errors."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="module")
def run_perf(service_dir: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("geoapi_run_perf", service_dir / "perf" / "run_perf.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stats(health_p95: float, nearby_p95: float, failures: float = 0) -> dict[str, dict[str, float]]:
    row = {"requests": 1000.0, "failures": failures, "p50_ms": 10.0, "p99_ms": 50.0, "rps": 100.0}
    return {"/health": {**row, "p95_ms": health_p95}, "/farms/nearby": {**row, "p95_ms": nearby_p95}}


BASELINE = {"endpoints": {"/health": {"p95_ms": 20.0}, "/farms/nearby": {"p95_ms": 40.0}}}


def test_within_ratio_passes(run_perf: ModuleType) -> None:
    assert run_perf.compare(_stats(59, 119), BASELINE, 3.0) == []


def test_large_p95_regression_fails(run_perf: ModuleType) -> None:
    problems = run_perf.compare(_stats(20, 121), BASELINE, 3.0)
    assert len(problems) == 1
    assert problems[0].startswith("/farms/nearby: p95 121 ms > 3 x baseline 40 ms")


def test_failed_requests_fail(run_perf: ModuleType) -> None:
    problems = run_perf.compare(_stats(20, 40, failures=50), BASELINE, 3.0)
    assert any("requests failed" in p for p in problems)


def test_missing_endpoint_fails(run_perf: ModuleType) -> None:
    stats = _stats(20, 40)
    del stats["/health"]
    assert run_perf.compare(stats, BASELINE, 3.0) == ["/health: no requests recorded"]


def test_committed_baseline_covers_both_endpoints(service_dir: Path, run_perf: ModuleType) -> None:
    baseline = json.loads((service_dir / "perf-baseline.json").read_text())
    for name in run_perf.ENDPOINTS:
        assert baseline["endpoints"][name]["p95_ms"] > 0


def test_read_stats_parses_locust_csv(tmp_path: Path, run_perf: ModuleType) -> None:
    header = "Type,Name,Request Count,Failure Count,Requests/s,50%,95%,99%"
    lines = [
        header,
        "GET,/health,100,0,50.5,3,9,12",
        "GET,/farms/nearby,300,1,150.25,20,60,90",
        ",Aggregated,400,1,200.75,10,50,80",
    ]
    path = tmp_path / "perf_stats.csv"
    path.write_text("\n".join(lines) + "\n")
    stats = run_perf.read_stats(path)
    assert set(stats) == {"/health", "/farms/nearby"}
    assert stats["/farms/nearby"] == {
        "requests": 300.0,
        "failures": 1.0,
        "p50_ms": 20.0,
        "p95_ms": 60.0,
        "p99_ms": 90.0,
        "rps": 150.25,
    }
