"""``python -m geoapi.migrate`` against a fresh database of the local PostgreSQL (skipped without one).

The local role is what the RDS master user is (``.ci/install-postgis.sh``): it may create databases,
roles and the postgis extension, and is no superuser. Each test gets a database and an application
role of its own, dropped afterwards.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from geoapi import Settings, create_app, migrate
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo


def _url(base: str, **changes: str) -> str:
    info = conninfo_to_dict(base)
    info.update(changes)
    return make_conninfo(**{k: str(v) for k, v in info.items()})


@pytest.fixture()
def fresh(database_url: str) -> Iterator[tuple[str, str, str]]:
    """(URL of a new bare database, app role name, its password); both dropped afterwards."""
    suffix = secrets.token_hex(4)
    name, role, password = f"geoapi_mig_{suffix}", f"geoapi_app_{suffix}", secrets.token_hex(12)
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _url(database_url, dbname=name), role, password
    finally:
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def _env(url: str, schema: str, role: str, password: str) -> dict[str, str]:
    return {"DATABASE_URL": url, "DB_SCHEMA": schema, "APP_DB_USER": role, "APP_DB_PASSWORD": password}


def _snapshot(url: str, schema: str, role: str) -> dict[str, Any]:
    """Everything a migration run may change, as the catalog shows it."""
    with psycopg.connect(url) as conn:

        def rows(query: str, *args: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(query, args).fetchall()]

        return {
            "extension": rows("SELECT extname, extversion, extnamespace::regnamespace::text FROM pg_extension"),
            "versions": rows(f'SELECT version, name, applied_at FROM "{schema}".schema_migrations ORDER BY 1'),
            "relations": rows(
                "SELECT c.relname, c.relkind, c.relacl::text FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s ORDER BY 1",
                schema,
            ),
            "schema_acl": rows("SELECT nspacl::text FROM pg_namespace WHERE nspname = %s", schema),
            "default_acl": rows(
                "SELECT defaclobjtype, defaclacl::text FROM pg_default_acl"
                " WHERE defaclnamespace = %s::regnamespace ORDER BY 1",
                schema,
            ),
            "database_acl": rows("SELECT datacl::text FROM pg_database WHERE datname = current_database()"),
            "role": rows("SELECT * FROM pg_roles WHERE rolname = %s", role),
        }


def test_fresh_database_gets_extension_latest_version_and_a_least_privilege_role(
    fresh: tuple[str, str, str],
) -> None:
    url, role, password = fresh
    assert migrate.main([], _env(url, "branch_a", role, password)) == 0

    latest = migrate.discover(migrate.packaged_dir())[-1].version
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
        assert conn.execute("SELECT max(version) FROM branch_a.schema_migrations").fetchone() == (latest,)
        assert conn.execute("SELECT to_regclass('branch_a.farms') IS NOT NULL").fetchone() == (True,)
        assert conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", (role,)
        ).fetchone() == (True, False, False, False)

    # The service's view: its schema first, public for PostGIS, as the application role.
    app_url = _url(url, user=role, password=password)
    with psycopg.connect(app_url, options="-c search_path=branch_a,public") as conn:
        conn.execute(
            "INSERT INTO farms (name, country, area_ha, location)"
            " VALUES ('x', 'GH', 1, ST_SetSRID(ST_MakePoint(-1, 6), 4326)::geography)"
        )
        conn.execute("UPDATE farms SET name = 'y'")
        assert conn.execute("SELECT count(*) FROM farms").fetchone() == (1,)
        conn.execute("DELETE FROM farms")
        conn.commit()
        assert conn.execute("SELECT has_schema_privilege('branch_a', 'CREATE')").fetchone() == (False,)
        assert conn.execute("SELECT has_schema_privilege('public', 'CREATE')").fetchone() == (False,)
        assert conn.execute("SELECT has_database_privilege(current_database(), 'CREATE')").fetchone() == (False,)
        assert conn.execute("SELECT has_table_privilege('farms', 'TRUNCATE')").fetchone() == (False,)
        assert conn.execute("SELECT has_table_privilege('schema_migrations', 'INSERT')").fetchone() == (False,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE intruder (id int)")


def test_a_second_run_changes_nothing(fresh: tuple[str, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    url, role, password = fresh
    env = _env(url, "branch_a", role, password)
    assert migrate.main([], env) == 0
    before = _snapshot(url, "branch_a", role)
    capsys.readouterr()

    assert migrate.main([], env) == 0

    assert _snapshot(url, "branch_a", role) == before
    out = capsys.readouterr().err
    assert "postgis present; schema present; applied: none" in out
    assert f"app role {role} unchanged" in out


def test_a_changed_app_password_is_set_again(fresh: tuple[str, str, str]) -> None:
    url, role, password = fresh
    assert migrate.main([], _env(url, "branch_a", role, password)) == 0
    report = migrate.migrate(migrate.Options.from_env(_env(url, "branch_a", role, password + "x")))
    assert report.role == f"{role} password set"
    with psycopg.connect(_url(url, user=role, password=password + "x")) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (role,)


def test_two_schemas_do_not_touch_each_other(fresh: tuple[str, str, str], tmp_path: Path) -> None:
    url, role, password = fresh
    assert migrate.main([], _env(url, "branch_a", role, password)) == 0
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO branch_a.farms (name, country, area_ha, location)"
            " VALUES ('a', 'GH', 1, ST_SetSRID(ST_MakePoint(-1, 6), 4326)::geography)"
        )
    before_a = _snapshot(url, "branch_a", role)

    # Branch b runs a newer release with one more migration: branch a keeps its version and rows.
    newer = tmp_path / "migrations"
    shutil.copytree(migrate.packaged_dir(), newer)
    (newer / "0900_farm_notes.sql").write_text("ALTER TABLE farms ADD COLUMN notes text;\n")
    assert migrate.main(["--migrations-dir", str(newer)], _env(url, "branch_b", role, password)) == 0

    assert _snapshot(url, "branch_a", role) == before_a
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM branch_a.farms").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM branch_b.farms").fetchone() == (0,)
        assert conn.execute("SELECT max(version) FROM branch_b.schema_migrations").fetchone() == (900,)
        columns = "SELECT count(*) FROM information_schema.columns WHERE table_schema = %s AND column_name = 'notes'"
        assert conn.execute(columns, ("branch_a",)).fetchone() == (0,)
        assert conn.execute(columns, ("branch_b",)).fetchone() == (1,)


def test_a_broken_file_exits_non_zero_and_rolls_back(
    fresh: tuple[str, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url, role, password = fresh
    env = _env(url, "branch_a", role, password)
    assert migrate.main([], env) == 0
    before = _snapshot(url, "branch_a", role)
    broken = tmp_path / "migrations"
    shutil.copytree(migrate.packaged_dir(), broken)
    (broken / "0002_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\nALTER TABLE farms ADD COLUMN owner text;\nSELEC 1;\n"
    )
    capsys.readouterr()

    assert migrate.main(["--migrations-dir", str(broken)], env) == 1

    err = capsys.readouterr().err
    assert "0002_broken.sql failed and was rolled back" in err
    assert "stays at version 0001" in err
    assert _snapshot(url, "branch_a", role) == before
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regclass('branch_a.half_done')").fetchone() == (None,)


def test_the_service_runs_in_its_schema_as_the_app_role(fresh: tuple[str, str, str]) -> None:
    url, role, password = fresh
    assert migrate.main([], _env(url, "branch_a", role, password)) == 0
    app_url = _url(url, user=role, password=password)
    app = create_app(Settings(database_url=app_url, app_version="test", db_schema="branch_a", emf_enabled=False))
    with TestClient(app) as client:
        detailed = client.get("/health/detailed")
        assert detailed.status_code == 200, detailed.text
        assert detailed.json()["components"]["database"]["user"] == role
        nearby = client.get("/farms/nearby", params={"lat": 6.0, "lon": -1.0})
        assert nearby.status_code == 200, nearby.text
        assert nearby.json()["count"] == 0


def test_drop_schema_drops_that_schema_only(fresh: tuple[str, str, str]) -> None:
    url, role, password = fresh
    for schema in ("branch_a", "branch_b"):
        assert migrate.main([], _env(url, schema, role, password)) == 0
    before_b = _snapshot(url, "branch_b", role)

    assert migrate.main(["--drop-schema"], _env(url, "branch_a", role, password)) == 0
    assert migrate.main(["--drop-schema"], _env(url, "branch_a", role, password)) == 0  # already gone: fine

    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT to_regnamespace('branch_a')").fetchone() == (None,)
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() == (1,)
    assert _snapshot(url, "branch_b", role) == before_b  # the other branch and the role are untouched
    assert migrate.main(["--drop-schema"], _env(url, "public", role, password)) == 1
