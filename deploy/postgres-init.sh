#!/bin/sh
# Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d): the roles
# and databases of docker-compose.yml. The app and Temporal each get their own login role, neither
# a superuser; each owns its databases (PostgreSQL 15+ lets only a database's owner create tables
# in its public schema). The superuser (POSTGRES_USER) is left for the operator: backups, upgrades.
# Passwords come from the container's environment and reach psql as variables, never as SQL text.
set -eu

psql --set ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set app_password="$APP_DB_PASSWORD" --set temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE kaspi_notify LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'app_password';
CREATE DATABASE kaspi_notify OWNER kaspi_notify;
REVOKE ALL ON DATABASE kaspi_notify FROM PUBLIC;

CREATE ROLE temporal LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
REVOKE ALL ON DATABASE temporal, temporal_visibility FROM PUBLIC;
SQL
