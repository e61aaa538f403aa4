"""Database migrations: ``python -m geoapi.migrate``.

Run once per release, before the new release serves, with a role that may create extensions,
schemas and roles (the RDS master user; locally the database owner). In order, and each step safe to
repeat:

1. ``CREATE EXTENSION IF NOT EXISTS postgis`` (in ``public``).
2. The service's schema (``DB_SCHEMA``) and its version table ``schema_migrations``.
3. Every numbered file ``migrations/NNNN_name.sql`` newer than the recorded version, each in its own
   transaction together with the row that records it: a file that fails leaves nothing behind and
   the recorded version where it was.
4. The application role (``APP_DB_USER`` / ``APP_DB_PASSWORD``), when given: LOGIN and nothing else,
   CONNECT on the database, USAGE on the schema, SELECT/INSERT/UPDATE/DELETE on its tables, USAGE on
   its sequences, and the same by default for tables and sequences later migrations create.

A second run changes nothing. Migrations of different schemas (branches) in one database never touch
each other's objects; a session advisory lock serialises runs against the same database.

Environment: ``MIGRATION_DATABASE_URL`` (default ``DATABASE_URL``) and ``MIGRATION_DB_PASSWORD`` (when
the URL carries none: libpq's ``PGPASSWORD`` otherwise), ``DB_SCHEMA`` (default ``public``),
``APP_DB_USER`` / ``APP_DB_PASSWORD``, ``GEOAPI_MIGRATIONS_DIR`` (default: the packaged files).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

#: Numbered migration files: ``0001_init.sql``.
FILE_PATTERN = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: Schema and role names accepted from the environment (they become SQL identifiers).
NAME_PATTERN = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
#: pg_advisory_lock key shared by every migration run against one database ("geoapi" in ASCII).
LOCK_KEY = 0x67656F617069
VERSION_TABLE = "schema_migrations"


class MigrationError(Exception):
    """A migration could not be applied; the message says which and why."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass
class Report:
    """What a run changed (empty lists: nothing)."""

    extension_created: bool = False
    schema_created: bool = False
    applied: list[int] = field(default_factory=list)
    role: str = "not managed"
    version: int = 0

    def summary(self) -> str:
        applied = ", ".join(f"{v:04d}" for v in self.applied) or "none"
        return (
            f"postgis {'created' if self.extension_created else 'present'}; "
            f"schema {'created' if self.schema_created else 'present'}; "
            f"applied: {applied}; version {self.version:04d}; app role {self.role}"
        )


def packaged_dir() -> Path:
    return Path(str(resources.files("geoapi").joinpath("migrations")))


def discover(directory: Path) -> list[Migration]:
    """The numbered files of ``directory`` in order; a misnamed or duplicated number is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILE_PATTERN.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version:04d} is also {found[version].path.name}")
        found[version] = Migration(version, match.group(2), path)
    return [found[v] for v in sorted(found)]


def check_name(kind: str, value: str) -> str:
    if not NAME_PATTERN.match(value):
        raise MigrationError(f"{kind} {value!r} must match {NAME_PATTERN.pattern}")
    return value


def ensure_extension(conn: psycopg.Connection[Any]) -> bool:
    exists = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone() is not None
    if not exists:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public")
    conn.commit()
    return not exists


def ensure_schema(conn: psycopg.Connection[Any], schema: str) -> bool:
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None
    if not exists:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(
            "CREATE TABLE IF NOT EXISTS {}.{} ("
            " version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        ).format(sql.Identifier(schema), sql.Identifier(VERSION_TABLE))
    )
    conn.commit()
    return not exists


def current_version(conn: psycopg.Connection[Any], schema: str) -> int:
    row = conn.execute(
        sql.SQL("SELECT coalesce(max(version), 0) FROM {}.{}").format(
            sql.Identifier(schema), sql.Identifier(VERSION_TABLE)
        )
    ).fetchone()
    conn.commit()
    return int(row[0]) if row else 0


def apply_pending(conn: psycopg.Connection[Any], schema: str, migrations: Sequence[Migration]) -> list[int]:
    """Apply the files newer than the recorded version, each in one transaction with its version row."""
    applied: list[int] = []
    done = current_version(conn, schema)
    for migration in migrations:
        if migration.version <= done:
            continue
        try:
            with conn.transaction():
                conn.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
                conn.execute(migration.sql())  # a trusted file of this package
                conn.execute(
                    sql.SQL("INSERT INTO {}.{} (version, name) VALUES (%s, %s)").format(
                        sql.Identifier(schema), sql.Identifier(VERSION_TABLE)
                    ),
                    (migration.version, migration.name),
                )
        except psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise MigrationError(
                f"{migration.path.name} failed and was rolled back (schema {schema} stays at version "
                f"{done:04d}): {type(exc).__name__}: {first}"
            ) from exc
        conn.commit()
        applied.append(migration.version)
        done = migration.version
    return applied


def _can_log_in(conninfo: str, user: str, password: str) -> bool:
    info = conninfo_to_dict(conninfo)
    info.update(user=user, password=password, connect_timeout=5)
    try:
        with psycopg.connect(make_conninfo(**{k: str(v) for k, v in info.items()})):
            return True
    except psycopg.OperationalError:
        return False


def ensure_app_role(conn: psycopg.Connection[Any], schema: str, user: str, password: str) -> str:
    """Create or fix the application role; returns what changed ("unchanged" when nothing did)."""
    changes: list[str] = []
    role = sql.Identifier(user)
    row = conn.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls"
        " FROM pg_roles WHERE rolname = %s",
        (user,),
    ).fetchone()
    if row is None:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(password)))
        changes.append("created")
    elif any(row[:3]) or not row[3] or any(row[4:]):
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS").format(role)
        )
        changes.append("attributes reset")
    conn.commit()
    if row is not None and not _can_log_in(conn.info.dsn, user, password):
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
        conn.commit()
        changes.append("password set")

    before = _grants(conn, schema, user)
    ident = sql.Identifier(schema)
    database = sql.Identifier(conn.info.dbname)
    # CONNECT is PUBLIC's by default; grant it only where it was revoked (on RDS the master user may
    # not own the database, and a GRANT that changes nothing must not fail the migration).
    can_connect = conn.execute("SELECT has_database_privilege(%s, current_database(), 'CONNECT')", (user,)).fetchone()
    statements = (
        [] if can_connect and can_connect[0] else [sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, role)]
    )
    for statement in (
        *statements,
        sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(ident, role),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {} TO {}").format(ident, role),
        sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA {} TO {}").format(ident, role),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {}").format(
            ident, role
        ),
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT USAGE ON SEQUENCES TO {}").format(ident, role),
        # The version table is the migration's own: the service reads it, never writes it.
        sql.SQL("REVOKE INSERT, UPDATE, DELETE ON {}.{} FROM {}").format(ident, sql.Identifier(VERSION_TABLE), role),
    ):
        conn.execute(statement)
    conn.commit()
    if _grants(conn, schema, user) != before:
        changes.append("grants set")
    return ", ".join(changes) or "unchanged"


def _grants(conn: psycopg.Connection[Any], schema: str, user: str) -> tuple[Any, ...]:
    """The ACLs that mention ``user`` in ``schema`` (to tell whether the GRANTs changed anything)."""
    rows = conn.execute(
        "SELECT 'db', datacl::text FROM pg_database WHERE datname = current_database()"
        " UNION ALL SELECT 'schema', nspacl::text FROM pg_namespace WHERE nspname = %(s)s"
        " UNION ALL SELECT c.relname, c.relacl::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname = %(s)s AND c.relkind IN ('r', 'p', 'S', 'v')"
        " UNION ALL SELECT 'default ' || d.defaclobjtype::text, d.defaclacl::text FROM pg_default_acl d"
        "  JOIN pg_namespace n ON n.oid = d.defaclnamespace WHERE n.nspname = %(s)s"
        " ORDER BY 1",
        {"s": schema},
    ).fetchall()
    conn.commit()
    return tuple(tuple(r) for r in rows)


@dataclass(frozen=True)
class Options:
    conninfo: str
    password: str | None
    schema: str
    app_user: str | None
    app_password: str | None
    directory: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str], directory: str | None = None) -> Options:
        url = env.get("MIGRATION_DATABASE_URL") or env.get("DATABASE_URL") or ""
        if not url:
            raise MigrationError("no database: set MIGRATION_DATABASE_URL or DATABASE_URL")
        app_user = env.get("APP_DB_USER") or None
        app_password = env.get("APP_DB_PASSWORD") or None
        if bool(app_user) != bool(app_password):
            raise MigrationError("set both APP_DB_USER and APP_DB_PASSWORD, or neither")
        return cls(
            conninfo=url,
            password=env.get("MIGRATION_DB_PASSWORD") or None,
            schema=check_name("DB_SCHEMA", env.get("DB_SCHEMA") or "public"),
            app_user=check_name("APP_DB_USER", app_user) if app_user else None,
            app_password=app_password,
            directory=Path(directory or env.get("GEOAPI_MIGRATIONS_DIR") or packaged_dir()),
        )


def migrate(options: Options) -> Report:
    """Bring the database to the latest version (see the module docstring)."""
    migrations = discover(options.directory)
    report = Report()
    kwargs: dict[str, Any] = {"connect_timeout": 10, "autocommit": False}
    if options.password:
        kwargs["password"] = options.password
    try:
        with psycopg.connect(options.conninfo, **kwargs) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            conn.commit()
            report.extension_created = ensure_extension(conn)
            report.schema_created = ensure_schema(conn, options.schema)
            report.applied = apply_pending(conn, options.schema, migrations)
            report.version = current_version(conn, options.schema)
            if options.app_user and options.app_password:
                report.role = f"{options.app_user} " + ensure_app_role(
                    conn, options.schema, options.app_user, options.app_password
                )
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationError(f"{type(exc).__name__}: {first}") from exc
    return report


def drop_schema(options: Options) -> bool:
    """``DROP SCHEMA <DB_SCHEMA> CASCADE`` (a branch environment's end); True if it existed. Never
    ``public``, the extension or a role: other schemas and the application role stay."""
    if options.schema == "public":
        raise MigrationError("refusing to drop the public schema (PostGIS lives there)")
    kwargs: dict[str, Any] = {"connect_timeout": 10}
    if options.password:
        kwargs["password"] = options.password
    try:
        with psycopg.connect(options.conninfo, **kwargs) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
            found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (options.schema,)).fetchone()
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(options.schema)))
            conn.commit()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MigrationError(f"{type(exc).__name__}: {first}") from exc
    return found is not None


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m geoapi.migrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--migrations-dir", help="directory of NNNN_name.sql files (default: the packaged ones)")
    parser.add_argument(
        "--drop-schema", action="store_true", help="drop DB_SCHEMA and everything in it (a branch environment's end)"
    )
    args = parser.parse_args(argv)
    try:
        options = Options.from_env(os.environ if environ is None else environ, args.migrations_dir)
        if args.drop_schema:
            dropped = drop_schema(options)
            print(f"schema {options.schema} {'dropped' if dropped else 'did not exist'}", file=sys.stderr)
            return 0
        print(f"migrating schema {options.schema} with {options.directory}", file=sys.stderr)
        report = migrate(options)
    except MigrationError as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    print(f"migration done: {report.summary()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
