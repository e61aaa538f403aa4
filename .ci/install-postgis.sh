#!/usr/bin/env bash
# Install and start PostgreSQL 15 + PostGIS 3 (Debian 12 packages) and create
# the role and database the geo-api service tests use: a BARE database, as RDS
# gives one. The role gets what the RDS master user has (rds_superuser): it owns
# the database, may create databases and roles, and may create the postgis
# extension; it is not a superuser. The extension, the service's schema and its
# application role are created by the service's migration (python -m
# geoapi.migrate), as on RDS.
#
# Idempotent: packages already installed are not reinstalled, a running
# cluster is left alone, an existing role/database is kept. Run as root.
#
# Environment (all optional):
#   GEOAPI_TEST_DB_USER      role to create        (default: geoapi)
#   GEOAPI_TEST_DB_PASSWORD  its password          (default: geoapi)
#   GEOAPI_TEST_DB_NAME      database to create    (default: geoapi_test)
#   PG_VERSION               PostgreSQL major      (default: 15)
#   PG_PORT                  cluster port          (default: 5432)
set -euo pipefail

PG_VERSION="${PG_VERSION:-15}"
PG_PORT="${PG_PORT:-5432}"
DB_USER="${GEOAPI_TEST_DB_USER:-geoapi}"
DB_PASSWORD="${GEOAPI_TEST_DB_PASSWORD:-geoapi}"
DB_NAME="${GEOAPI_TEST_DB_NAME:-geoapi_test}"
PACKAGES=("postgresql-${PG_VERSION}" "postgresql-${PG_VERSION}-postgis-3")

log() { printf 'install-postgis: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    log "must run as root (apt-get and the postgres cluster need it)" >&2
    exit 1
fi

for name in "$DB_USER" "$DB_NAME"; do
    if ! [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]]; then
        log "invalid role or database name: '$name' (use [a-z0-9_])" >&2
        exit 1
    fi
done

# 1. Packages.
missing=()
for pkg in "${PACKAGES[@]}"; do
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        log "package $pkg already installed"
    else
        missing+=("$pkg")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# 2. Cluster.
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main"' | grep -q .; then
    log "creating cluster ${PG_VERSION}/main on port ${PG_PORT}"
    pg_createcluster "$PG_VERSION" main --port "$PG_PORT"
fi
if pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
    log "cluster ${PG_VERSION}/main already running"
else
    log "starting cluster ${PG_VERSION}/main"
    pg_ctlcluster "$PG_VERSION" main start
fi

# Wait until the server accepts connections (bounded).
for _ in $(seq 1 30); do
    if runuser -u postgres -- pg_isready -q -p "$PG_PORT"; then
        break
    fi
    sleep 1
done
if ! runuser -u postgres -- pg_isready -q -p "$PG_PORT"; then
    log "PostgreSQL did not become ready on port ${PG_PORT}" >&2
    exit 1
fi

psql_admin() { runuser -u postgres -- psql -p "$PG_PORT" -v ON_ERROR_STOP=1 -qtAX "$@"; }

# 3. What rds_superuser may do that a plain database owner may not: create the
# postgis extension. PostGIS 3 is not a trusted extension (check:
# SELECT trusted FROM pg_available_extension_versions WHERE name = 'postgis'),
# so mark it trusted: then a role with CREATE on a database (its owner) may
# create it there, and a role without (the service's application role) may not.
control="$(pg_config --sharedir 2>/dev/null || echo "/usr/share/postgresql/${PG_VERSION}")/extension/postgis.control"
[ -f "$control" ] || control="/usr/share/postgresql/${PG_VERSION}/extension/postgis.control"
if grep -q '^trusted' "$control"; then
    log "postgis already trusted ($control)"
else
    log "marking postgis trusted ($control)"
    printf '# rds_superuser may create it on RDS: the database owner may here\ntrusted = true\n' >> "$control"
fi

# 4. Role and database.
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '${DB_USER}'")" = "1" ]; then
    log "role ${DB_USER} already exists"
else
    log "creating role ${DB_USER}"
    psql_admin -c "CREATE ROLE ${DB_USER} LOGIN PASSWORD '${DB_PASSWORD}'"
fi
# Like the RDS master user: may create databases and roles, is no superuser.
psql_admin -c "ALTER ROLE ${DB_USER} CREATEDB CREATEROLE NOSUPERUSER"
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '${DB_NAME}'")" = "1" ]; then
    log "database ${DB_NAME} already exists"
else
    log "creating database ${DB_NAME} owned by ${DB_USER}"
    psql_admin -c "CREATE DATABASE ${DB_NAME} OWNER ${DB_USER}"
fi
log "postgis $(psql_admin -c "SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'") available; ${DB_NAME} is bare (the migration creates the extension)"

log "done: postgresql://${DB_USER}:***@127.0.0.1:${PG_PORT}/${DB_NAME}"
