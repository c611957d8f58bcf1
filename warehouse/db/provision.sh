#!/usr/bin/env bash
# Install and start the warehouse's PostgreSQL 17 + TimescaleDB + pgvector + PL/Python cluster.
#
# Idempotent: every step checks before it acts, so a second run takes seconds.
# Called by `warehouse db up`, which passes the connection settings in the environment
# (warehouse/config.py is the one place that reads and defaults them).
#
# Package sources:
#   Debian 12 (bookworm): the Debian 13 (trixie) suite, pinned at priority 100 so that
#                         nothing else on the machine is upgraded by accident.
#   Debian 13+ / Ubuntu:  the distribution's own packages.
#   anything else:        a clear error naming what to install.
set -euo pipefail

: "${WAREHOUSE_PG_MAJOR:?}" "${WAREHOUSE_PG_CLUSTER:?}" "${WAREHOUSE_PG_PORT:?}" "${WAREHOUSE_DB:?}"
: "${WAREHOUSE_ADMIN_USER:?}" "${WAREHOUSE_ADMIN_PASSWORD:?}"
: "${WAREHOUSE_PIPELINE_USER:?}" "${WAREHOUSE_PIPELINE_PASSWORD:?}"
: "${WAREHOUSE_ANALYST_USER:?}" "${WAREHOUSE_ANALYST_PASSWORD:?}"
: "${WAREHOUSE_WORKER_USER:?}" "${WAREHOUSE_WORKER_PASSWORD:?}"

PG=${WAREHOUSE_PG_MAJOR}
CLUSTER=${WAREHOUSE_PG_CLUSTER}
PORT=${WAREHOUSE_PG_PORT}
PACKAGES=(
  "postgresql-${PG}" "postgresql-${PG}-timescaledb" "postgresql-${PG}-pgvector"
  "postgresql-plpython3-${PG}" python3-numpy python3-scipy python3-pandas
)

log() { printf '[provision] %s\n' "$*" >&2; }
die() { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (or with sudo): it installs packages and owns a cluster"

have_packages() {
  local p
  for p in "${PACKAGES[@]}"; do
    [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || return 1
  done
}

install_packages() {
  . /etc/os-release
  local target=()
  case "${ID}:${VERSION_ID:-}" in
    debian:12)
      log "Debian 12: taking PostgreSQL ${PG} from the trixie suite, pinned at priority 100"
      if [ ! -f /etc/apt/sources.list.d/warehouse-trixie.sources ]; then
        cat >/etc/apt/sources.list.d/warehouse-trixie.sources <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
      fi
      cat >/etc/apt/preferences.d/warehouse-trixie <<PIN
Package: *
Pin: release n=trixie
Pin-Priority: 100
PIN
      target=(-t trixie)
      ;;
    debian:*|ubuntu:*)
      log "${PRETTY_NAME}: using the distribution's own packages"
      ;;
    *)
      die "unsupported system '${PRETTY_NAME:-unknown}'. Install PostgreSQL ${PG} with TimescaleDB, pgvector and PL/Python 3 (numpy, scipy, pandas on the server's Python), or use the timescale/timescaledb-ha:pg${PG} container (see README)"
      ;;
  esac
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  for p in "${PACKAGES[@]}"; do
    [[ "$(apt-cache policy "$p" 2>/dev/null)" == *"Candidate: "[0-9]* ]] \
      || die "package '$p' is not available from this system's apt sources; install PostgreSQL ${PG}, TimescaleDB, pgvector and PL/Python 3 by hand"
  done
  apt-get install -y -qq --no-install-recommends "${target[@]}" "${PACKAGES[@]}" >/dev/null
}

if have_packages; then
  log "packages present"
else
  install_packages
fi

# --- the cluster --------------------------------------------------------------------------
if [ -z "$(pg_lsclusters -h | awk -v v="${PG}" -v c="${CLUSTER}" '$1==v && $2==c')" ]; then
  log "creating cluster ${PG}/${CLUSTER} on port ${PORT}"
  pg_createcluster "${PG}" "${CLUSTER}" -p "${PORT}" -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
fi
CONF=/etc/postgresql/${PG}/${CLUSTER}
# settings owned by the project (an include file keeps postgresql.conf pristine)
conf_new=$(mktemp)
cat >"${conf_new}" <<CONFEOF
port = ${PORT}
listen_addresses = 'localhost'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 100
shared_buffers = '${WAREHOUSE_PG_SHARED_BUFFERS:-1GB}'
work_mem = '64MB'
maintenance_work_mem = '512MB'
max_wal_size = '4GB'
checkpoint_timeout = '15min'
wal_compression = on
jit = off
# background workers: TimescaleDB runs a scheduler per database that has the extension (the
# test suite creates a database per module) and they share this pool with parallel query;
# at the default 8 no parallel worker is left and PARALLEL SAFE UDFs run on one core
max_worker_processes = 48
max_parallel_workers = 8
max_parallel_workers_per_gather = 2
# TimescaleDB 2.19's parallel-aware ChunkAppend intermittently returns no rows when a chunk's
# condition references an InitPlan parameter under a parallel join (timescale/timescaledb
# #10503, fixed after 2.26.3; measured here: 3 of 12 runs of a join on raw.option_quotes
# with quote_ts >= (SELECT ...) returned 0 rows, the incremental models' rebuild-window
# filter has that shape). Off: the chunks are still scanned by parallel workers, below a
# plain ChunkAppend, and 0 of 12 runs went wrong
timescaledb.enable_parallel_chunk_append = off
CONFEOF
conf_changed=0
if ! cmp -s "${conf_new}" "${CONF}/conf.d/warehouse.conf"; then
  install -m 0644 "${conf_new}" "${CONF}/conf.d/warehouse.conf"
  conf_changed=1
fi
rm -f "${conf_new}"

status=$(pg_lsclusters -h | awk -v v="${PG}" -v c="${CLUSTER}" '$1==v && $2==c {print $4}')
if [ "${status}" != "online" ]; then
  log "starting cluster ${PG}/${CLUSTER}"
  pg_ctlcluster "${PG}" "${CLUSTER}" start
elif [ "${conf_changed}" = 1 ]; then
  log "settings changed: restarting cluster ${PG}/${CLUSTER}"
  pg_ctlcluster "${PG}" "${CLUSTER}" restart
fi

psql_su() { runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "${PORT}" "$@"; }

# --- roles, database, extensions ----------------------------------------------------------
psql_su -d postgres \
  -v admin="${WAREHOUSE_ADMIN_USER}" -v admin_pw="${WAREHOUSE_ADMIN_PASSWORD}" \
  -v pipeline="${WAREHOUSE_PIPELINE_USER}" -v pipeline_pw="${WAREHOUSE_PIPELINE_PASSWORD}" \
  -v analyst="${WAREHOUSE_ANALYST_USER}" -v analyst_pw="${WAREHOUSE_ANALYST_PASSWORD}" \
  -v worker="${WAREHOUSE_WORKER_USER}" -v worker_pw="${WAREHOUSE_WORKER_PASSWORD}" <<'SQL'
-- untrusted PL/Python needs a superuser to create functions: that is the admin role's job
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', :'admin', :'admin_pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'admin') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'pipeline', :'pipeline_pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'pipeline') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'analyst', :'analyst_pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'analyst') \gexec
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'worker', :'worker_pw')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'worker') \gexec
-- keep passwords in step with the environment
SELECT format('ALTER ROLE %I PASSWORD %L', :'admin', :'admin_pw') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'pipeline', :'pipeline_pw') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'analyst', :'analyst_pw') \gexec
SELECT format('ALTER ROLE %I PASSWORD %L', :'worker', :'worker_pw') \gexec
SQL

if [ "$(psql_su -d postgres -tA -v db="${WAREHOUSE_DB}" <<<"SELECT count(*) FROM pg_database WHERE datname = :'db'")" != 1 ]; then
  log "creating database ${WAREHOUSE_DB}"
  runuser -u postgres -- createdb -p "${PORT}" -O "${WAREHOUSE_PIPELINE_USER}" "${WAREHOUSE_DB}"
fi
psql_su -d "${WAREHOUSE_DB}" -v pipeline="${WAREHOUSE_PIPELINE_USER}" <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE EXTENSION IF NOT EXISTS vector;
CREATE EXTENSION IF NOT EXISTS plpython3u;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('GRANT CREATE ON DATABASE %I TO %I', current_database(), :'pipeline') \gexec
SQL

# --- server-side Python must import the numerical stack ------------------------------------
psql_su -d "${WAREHOUSE_DB}" -tA <<'SQL' >/dev/null
DO $$
import numpy, scipy, pandas  # noqa: F401
$$ LANGUAGE plpython3u;
SQL
log "cluster ${PG}/${CLUSTER} online on port ${PORT}, database ${WAREHOUSE_DB} ready"
