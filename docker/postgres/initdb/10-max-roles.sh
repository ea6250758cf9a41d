#!/usr/bin/env bash
# Roles and databases of Max on the compose PostgreSQL, created once, on the first start of
# an empty data volume (the postgres image runs /docker-entrypoint-initdb.d/*.sh then).
#
#   max_app           the services' role: owns nothing; on max_audit it gets INSERT and SELECT
#                     only (granted by `max-otel audit install`)
#   max_audit_owner   owns the max_audit database and the audit tables (migrations, archive)
#   max_audit         the audit database (spec: "Separate audit database")
#
# pg_stat_statements is created in the service database ($POSTGRES_DB) and in max_audit, so
# `max-otel db slow-queries` works on both; max_app may read every role's statistics.
#
# Environment (compose passes them): POSTGRES_USER, POSTGRES_DB (the image's own),
# MAX_APP_PASSWORD and MAX_AUDIT_OWNER_PASSWORD (required, no default).
set -euo pipefail

: "${MAX_APP_PASSWORD:?MAX_APP_PASSWORD must be set (the max_app role password)}"
: "${MAX_AUDIT_OWNER_PASSWORD:?MAX_AUDIT_OWNER_PASSWORD must be set (the max_audit_owner role password)}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" \
    -v app_password="$MAX_APP_PASSWORD" \
    -v owner_password="$MAX_AUDIT_OWNER_PASSWORD" <<'SQL'
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE ROLE max_app LOGIN PASSWORD :'app_password';
CREATE ROLE max_audit_owner LOGIN PASSWORD :'owner_password';
GRANT pg_read_all_stats TO max_app;
CREATE DATABASE max_audit OWNER max_audit_owner;
\connect max_audit
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
-- Only the owner creates objects in the audit database (PostgreSQL 15's default, stated).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
