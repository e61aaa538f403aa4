"""The local stand-in's database mapping, and the schema each deployment gets."""

from __future__ import annotations

import pytest

from deploytool import naming
from deploytool.localrun import DEFAULT_LOCAL_DB, LOCAL_DB_ENV, LocalRuntime

RDS = "theobroma-local.c0ffee.us-east-1.rds.amazonaws.com"


@pytest.fixture(autouse=True)
def _default_local_db(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LOCAL_DB_ENV, raising=False)


def test_the_service_keeps_its_own_role_and_the_migration_gets_the_local_owner() -> None:
    env = {
        "DATABASE_URL": f"postgresql://theobroma_local_app@{RDS}:5432/postgres?sslmode=require",
        "PGHOST": RDS,
        "PGUSER": "theobroma_local_app",
        "PGPASSWORD": "app p@ss/word",
        "APP_DB_USER": "theobroma_local_app",
        "APP_DB_PASSWORD": "app p@ss/word",
        "MIGRATION_DATABASE_URL": f"postgresql://theobroma@{RDS}:5432/postgres?sslmode=require",
        "MIGRATION_DB_PASSWORD": "master",
        "DB_SCHEMA": "local_feature_x",
    }
    mapped = LocalRuntime.map_database(env)
    assert mapped["DATABASE_URL"] == "postgresql://theobroma_local_app:app%20p%40ss%2Fword@127.0.0.1:5432/geoapi_test"
    assert mapped["MIGRATION_DATABASE_URL"] == DEFAULT_LOCAL_DB
    assert "MIGRATION_DB_PASSWORD" not in mapped  # the local URL carries the owner's password
    assert not any(k.startswith("PG") for k in mapped)
    assert (mapped["APP_DB_USER"], mapped["DB_SCHEMA"]) == ("theobroma_local_app", "local_feature_x")


def test_a_master_user_url_maps_to_the_local_owner_and_other_urls_stay() -> None:
    master = {"DATABASE_URL": f"postgresql://theobroma@{RDS}:5432/postgres", "PGHOST": RDS, "PGPASSWORD": "x"}
    assert LocalRuntime.map_database(master) == {"DATABASE_URL": DEFAULT_LOCAL_DB}
    elsewhere = {"DATABASE_URL": "postgresql://u@db.example.net/x", "PGPASSWORD": "x"}
    assert LocalRuntime.map_database(elsewhere) == elsewhere


def test_each_branch_environment_has_its_own_schema_and_the_environment_public() -> None:
    branch = naming.names_for("staging", "feature/new-api-endpoint", "staging.theobroma.example")
    assert naming.db_schema(branch) == "staging_feature_new_api_endpoint"
    long = naming.names_for("staging", "Feature/" + "x" * 200, "staging.theobroma.example")
    assert len(naming.db_schema(long)) <= 63
    assert naming.db_schema(naming.names_for("production", None, "api.theobroma.example")) == "public"


def test_each_data_directory_gets_its_own_application_role_in_the_shared_local_database() -> None:
    """One local PostgreSQL serves every emulator session (parallel workers, the demo), each with its
    own random password for the same role name: the role is suffixed per data directory, in the
    migration's environment and in the service's URL alike."""
    env = {
        "DATABASE_URL": f"postgresql://theobroma_local_app@{RDS}:5432/postgres",
        "PGHOST": RDS,
        "PGPASSWORD": "pw",
        "APP_DB_USER": "theobroma_local_app",
        "MIGRATION_DATABASE_URL": f"postgresql://theobroma@{RDS}:5432/postgres",
    }
    one = LocalRuntime.map_database(env, role_suffix="_aaaaaa")
    two = LocalRuntime.map_database(env, role_suffix="_bbbbbb")
    assert one["APP_DB_USER"] == "theobroma_local_app_aaaaaa" and two["APP_DB_USER"] == "theobroma_local_app_bbbbbb"
    assert one["DATABASE_URL"].startswith("postgresql://theobroma_local_app_aaaaaa:pw@")
    assert two["DATABASE_URL"].startswith("postgresql://theobroma_local_app_bbbbbb:pw@")
    # A database elsewhere (not the emulator's RDS) keeps its role.
    elsewhere = {"DATABASE_URL": "postgresql://app@db.example.net/x", "APP_DB_USER": "app"}
    assert LocalRuntime.map_database(elsewhere, role_suffix="_aaaaaa") == elsewhere
