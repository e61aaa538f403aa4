"""The service's CloudWatch embedded metric format (EMF) lines, held to the specification."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from geoapi import Settings, create_app
from geoapi.emf import EmfLogger, load_spec

from tests.service.conftest import SERVICE_DIR
from tests.service.emf_schema import UNITS, emf_lines, emf_problems

SPEC_PATH = SERVICE_DIR / "geoapi" / "emf_metrics.json"


def declared(document: dict[str, Any]) -> set[str]:
    return {m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}


# --------------------------------------------------------------------------- the validator itself


def test_the_validator_rejects_what_cloudwatch_would_drop() -> None:
    good = {
        "_aws": {
            "Timestamp": 1700000000000,
            "CloudWatchMetrics": [{"Namespace": "N", "Dimensions": [["Environment"]], "Metrics": [{"Name": "M"}]}],
        },
        "Environment": "staging",
        "M": 1.5,
    }
    assert emf_problems(good) == []
    assert emf_problems({"Environment": "staging", "M": 1}), "no _aws"
    assert emf_problems({**good, "_aws": {**good["_aws"], "Timestamp": "now"}})
    assert emf_problems({k: v for k, v in good.items() if k != "M"}), "referenced metric missing"
    assert emf_problems({k: v for k, v in good.items() if k != "Environment"}), "referenced dimension missing"
    assert emf_problems({**good, "M": "1.5"}), "metric value not a number"
    unit = {"Namespace": "N", "Dimensions": [["Environment"]], "Metrics": [{"Name": "M", "Unit": "ms"}]}
    assert emf_problems({**good, "_aws": {**good["_aws"], "CloudWatchMetrics": [unit]}})
    no_namespace = {"Dimensions": [["Environment"]], "Metrics": [{"Name": "M"}]}
    assert emf_problems({**good, "_aws": {**good["_aws"], "CloudWatchMetrics": [no_namespace]}})


# --------------------------------------------------------------------------- the service's lines


def test_spec_file_declares_units_cloudwatch_knows() -> None:
    raw = json.loads(SPEC_PATH.read_text())
    assert raw["namespace"] and not raw["namespace"].startswith("AWS/")
    for directive in raw["directives"].values():
        assert directive["dimensions"][0] == "Environment"
        assert set(directive["metrics"].values()) <= set(UNITS)


def _client_lines(
    settings: Settings, calls: list[tuple[str, dict[str, Any]]], capsys: pytest.CaptureFixture[str]
) -> str:
    capsys.readouterr()
    with TestClient(create_app(settings)) as client:
        for path, params in calls:
            client.get(path, params=params)
    return capsys.readouterr().out


def test_every_request_writes_a_valid_emf_line_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=None, app_version="sha-emf", environment="staging")
    out = _client_lines(
        settings,
        [("/health", {}), ("/farms/nearby", {"lat": 6.0, "lon": -2.0}), ("/no/such/path", {})],
        capsys,
    )
    documents = emf_lines(out)
    assert len(documents) == 3
    for document in documents:
        assert emf_problems(document) == []
        assert document["Environment"] == "staging"
        assert declared(document) == {"RequestLatency", "Requests"}
        assert document["Requests"] == 1
        assert document["RequestLatency"] >= 0
    by_route = {d["Route"]: d for d in documents}
    assert by_route["/health"]["StatusClass"] == "2xx"
    assert by_route["/farms/nearby"]["StatusClass"] == "5xx"  # no database: 503
    assert by_route["/farms/nearby"]["status"] == 503
    assert by_route["<unmatched>"]["StatusClass"] == "4xx"
    namespace = json.loads(SPEC_PATH.read_text())["namespace"]
    assert {d["Namespace"] for doc in documents for d in doc["_aws"]["CloudWatchMetrics"]} == {namespace}


def test_emf_can_be_turned_off(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(database_url=None, emf_enabled=False)
    assert emf_lines(_client_lines(settings, [("/health", {})], capsys)) == []


def test_settings_read_app_env_and_the_emf_switch() -> None:
    settings = Settings.from_env({"APP_ENV": "production", "GEOAPI_EMF": "false", "GEOAPI_EMF_POOL_INTERVAL_S": "5"})
    assert (settings.environment, settings.emf_enabled, settings.emf_pool_interval_s) == ("production", False, 5)
    assert Settings.from_env({}).emf_enabled is True


def test_query_and_pool_lines_are_valid_and_carry_every_declared_metric() -> None:
    stream = io.StringIO()
    emf = EmfLogger("production", version="sha-1", stream=stream, clock=lambda: 1700000000.25)
    emf.nearby_query(latency_s=0.0123, rows=7)
    emf.db_pool_from_stats({"pool_size": 10, "pool_available": 3, "requests_waiting": 2})
    documents = emf_lines(stream.getvalue())
    assert [emf_problems(d) for d in documents] == [[], []]
    query, pool = documents
    assert query["_aws"]["Timestamp"] == 1700000000250
    assert query["NearbyQueryLatency"] == pytest.approx(12.3)
    assert query["NearbyRowsReturned"] == 7
    assert (pool["DbPoolSize"], pool["DbPoolInUse"], pool["DbPoolWaiting"]) == (10, 7, 2)
    spec = load_spec()
    emitted = {m for d in documents for m in declared(d)}
    assert emitted == set(spec.directives["nearby_query"].metrics) | set(spec.directives["db_pool"].metrics)


def test_a_document_missing_a_declared_value_is_refused() -> None:
    emf = EmfLogger("staging", stream=io.StringIO())
    with pytest.raises(ValueError, match="do not match"):
        emf.emit(["db_pool"], {"DbPoolSize": 1})
    with pytest.raises(ValueError, match="do not match"):
        emf.emit(["request_latency"], {"RequestLatency": 1.0})  # no Route


def test_a_broken_stdout_loses_the_line_not_the_request() -> None:
    stream = io.StringIO()
    stream.close()
    emf = EmfLogger("staging", stream=stream)
    emf.nearby_query(latency_s=0.01, rows=1)
    assert emf.dropped == 1


def test_the_pool_reporter_writes_pool_lines_while_the_app_runs(capsys: pytest.CaptureFixture[str]) -> None:
    # An unreachable database: the pool exists (it connects in the background), its stats are reported.
    settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:9/none", environment="staging", emf_pool_interval_s=1
    )
    capsys.readouterr()
    with TestClient(create_app(settings)) as client:
        client.get("/health")
        client.portal.call(asyncio.sleep, 1.2)
    documents = emf_lines(capsys.readouterr().out)
    pools = [d for d in documents if "DbPoolWaiting" in d]
    assert len(pools) >= 2, documents
    assert all(emf_problems(d) == [] for d in pools)
    assert pools[0]["DbPoolSize"] >= 0


def test_spec_path_is_the_packaged_file() -> None:
    assert Path(SPEC_PATH).is_file()
    assert load_spec().namespace == json.loads(SPEC_PATH.read_text())["namespace"]
