"""The release's database migration on the emulator: run once from the new task definition, before the
service moves; a failing one leaves the previous release serving.

The local database is bare (``.ci/install-postgis.sh``): whatever the branch needs in it, its deploy
creates.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from deploytool import release, stackops
from deploytool.localrun import DEFAULT_LOCAL_DB, LOCAL_DB_ENV, LocalRuntime, push_stand_in_image
from deploytool.naming import db_schema
from deploytool.release.migration import MigrationFailedError, migrate_now

pytestmark = pytest.mark.apply

# The platform's db_app_username (<project>_<env>_app), which the stand-in suffixes per data directory
# in the one local PostgreSQL that every emulator session shares (LocalRuntime.role_suffix).
APP_ROLE_PREFIX = "theobroma_local_app"
SERVICE_MIGRATIONS = Path(__file__).resolve().parents[2] / "examples" / "geo-api" / "geoapi" / "migrations"


def local_db() -> str:
    return os.environ.get(LOCAL_DB_ENV, DEFAULT_LOCAL_DB)


def version(schema: str) -> int | None:
    with psycopg.connect(local_db()) as conn:
        if conn.execute("SELECT to_regclass(%s)", (f"{schema}.schema_migrations",)).fetchone() == (None,):
            return None
        row = conn.execute(f'SELECT max(version) FROM "{schema}".schema_migrations').fetchone()
        return int(row[0]) if row and row[0] is not None else 0


def service_image(ecs: Any, cluster: str, service: str) -> str:
    svc = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"]).rsplit(":", 1)[-1]


def test_deploy_migrates_first_and_a_failing_migration_leaves_the_old_release_serving(
    local_target: Any, local_platform: dict[str, Any], emulator: Any, tmp_path: Path
) -> None:
    branch = "feature/migrate"
    names = local_target.names(branch)
    schema = db_schema(names)
    ecs, cluster = emulator.client("ecs"), local_platform["cluster_name"]
    for tag in ("mig-a", "mig-b"):
        push_stand_in_image(local_target, tag)
    with psycopg.connect(local_db(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    first = release.deploy_release(local_target, branch, "mig-a")
    app_role = APP_ROLE_PREFIX + LocalRuntime(local_target).role_suffix()
    assert re.fullmatch(APP_ROLE_PREFIX + "_[0-9a-f]{6}", app_role)

    assert first.outcome == "success"
    assert version(schema) == 1
    with psycopg.connect(local_db()) as conn:
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() == (1,)
    runtime = LocalRuntime(local_target)
    task = runtime.task(names.workspace)
    assert task is not None
    detailed = httpx.get(f"{task.url}/health/detailed", timeout=5).json()
    assert detailed["components"]["database"]["status"] == "healthy"
    # The service runs as the application role its migration made, not as the master user.
    assert detailed["components"]["database"]["user"] == app_role
    with psycopg.connect(local_db()) as conn:
        assert conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = %s", (app_role,)
        ).fetchone() == (False, False, False)
        assert conn.execute("SELECT has_schema_privilege(%s, %s, 'CREATE')", (app_role, schema)).fetchone() == (False,)
    (record,) = local_target.ledger().records(local_target.env, names.workspace)
    assert record.extra["migration"]["exit_code"] == 0

    # The next release's migration is broken: the deploy stops before the service moves.
    broken = tmp_path / "migrations"
    shutil.copytree(SERVICE_MIGRATIONS, broken)
    (broken / "0002_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELEC 1;\n")
    with pytest.raises(MigrationFailedError) as caught:
        release.deploy_release(local_target, branch, "mig-b", environment={"GEOAPI_MIGRATIONS_DIR": str(broken)})

    assert caught.value.exit_code == 1
    message = caught.value.message
    assert "the migration failed (exit code 1" in message
    assert "0002_broken.sql failed and was rolled back" in message  # the migration's own last line
    assert "the running release was not touched" in message
    assert version(schema) == 1
    assert service_image(ecs, cluster, names.service) == "mig-a"  # ECS never moved
    still = runtime.task(names.workspace)
    assert still is not None and still.pid == task.pid and still.image.endswith(":mig-a")
    assert httpx.get(f"{still.url}/health/detailed", timeout=5).status_code == 200
    records = local_target.ledger().records(local_target.env, names.workspace)
    assert [(r.image_after, r.outcome) for r in records] == [("mig-a", "success"), ("mig-b", "migration_failed")]
    assert "0002_broken.sql" in "\n".join(records[-1].extra["migration"]["log_tail"])
    assert local_target.ledger().current_image(local_target.env, names.workspace) == "mig-a"

    # On demand, from the serving release's task definition: nothing to apply, nothing changes.
    again = migrate_now(local_target, branch)
    assert again.exit_code == 0 and "applied: none" in again.log_tail[-1]
    last = local_target.ledger().records(local_target.env, names.workspace)[-1]
    assert (last.action, last.outcome, last.image_before) == ("migrate", "success", "mig-a")
    assert local_target.ledger().current_image(local_target.env, names.workspace) == "mig-a"

    # Destroying the branch drops its schema, and nothing else: another branch's schema stays.
    other = "local_feature_bystander"
    with psycopg.connect(local_db(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{other}"')
    stackops.destroy(local_target, branch)
    with psycopg.connect(local_db(), autocommit=True) as conn:
        assert conn.execute("SELECT to_regnamespace(%s)", (schema,)).fetchone() == (None,)
        assert conn.execute("SELECT to_regnamespace(%s) IS NOT NULL", (other,)).fetchone() == (True,)
        assert conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() == (1,)
        assert conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_role,)).fetchone() == (1,)
        conn.execute(f'DROP SCHEMA "{other}"')
    destroyed = local_target.ledger().records(local_target.env, names.workspace)[-1]
    assert destroyed.action == "destroy" and destroyed.extra["drop_schema"]["exit_code"] == 0
