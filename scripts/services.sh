#!/usr/bin/env bash
# Private PostgreSQL 15 + TimescaleDB and Redis for this checkout, under .data/, on their own ports.
# usage: services.sh up|down|status       (idempotent)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${SLAMON_DATA_DIR:-$ROOT/.data}
PG_PORT=${SLAMON_PG_PORT:-55432}
REDIS_PORT=${SLAMON_REDIS_PORT:-56379}
ENV_FILE=$DATA/services.env
PG_BIN=/usr/lib/postgresql/15/bin
PGDATA=$DATA/pg
RUN=$DATA/run
DB=${SLAMON_DB_NAME:-slamon}
# pgBackRest (docs/operations.md, "Backups and restore"): its config, log and locks under the data dir; the repository
# there too unless SLAMON_BACKUP_REPO puts it on another disk (a backup on the same disk survives no disk loss).
BACKREST_DIR=$DATA/pgbackrest
BACKREST_CONF=$BACKREST_DIR/pgbackrest.conf
BACKREST_REPO=${SLAMON_BACKUP_REPO:-$BACKREST_DIR/repo}
STANZA=${SLAMON_BACKUP_STANZA:-slamon}
# on: a new cluster archives its WAL. A throwaway cluster (CI) may say off: a test-suite run writes GBs of
# WAL, which would fill the repository with nothing worth restoring (no backup, so nothing expires it).
WAL_ARCHIVE=${SLAMON_WAL_ARCHIVE:-on}

# initdb and postgres refuse to run as root: the cluster belongs to the postgres system user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# The first port from $1 up that nothing listens on: another checkout's services may hold ours.
free_port() { local p=$1; while port_busy "$p"; do p=$((p + 1)); done; echo "$p"; }

pg_up() {
  mkdir -p "$DATA" "$RUN"
  if [ "$(id -u)" = 0 ]; then chown postgres "$RUN"; fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
    # Data checksums: a torn or rotted page is an error on read (and in pgBackRest's backup) instead of
    # silently wrong figures.
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --data-checksums >/dev/null
    cat >> "$PGDATA/postgresql.conf" <<CONF

listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 512MB
# An acknowledged write is a stored write: a commit returns only once its WAL is on disk. Group
# commit (commit_delay/commit_siblings) lets concurrent commits share one flush.
synchronous_commit = on
fsync = on
commit_delay = 200
commit_siblings = 4
timezone = 'UTC'
log_min_messages = warning
CONF
    # Continuous WAL archiving into pgBackRest's repository: a WAL segment is archived when full or at
    # most archive_timeout (5 min) after its first change, which keeps the RPO within SLO-007's 15 min.
    if [ "$WAL_ARCHIVE" != off ]; then
      cat >> "$PGDATA/postgresql.conf" <<CONF
wal_level = replica
archive_mode = on
archive_command = 'pgbackrest --config="$BACKREST_CONF" --stanza=$STANZA archive-push %p'
archive_timeout = 300
CONF
    fi
  fi
  # A cluster created when commits were asynchronous gets durable ones too (the last line wins).
  if awk '/^synchronous_commit *=/{v=$3} END{exit v != "off"}' "$PGDATA/postgresql.conf"; then
    printf 'synchronous_commit = on\nfsync = on\ncommit_delay = 200\ncommit_siblings = 4\n' >> "$PGDATA/postgresql.conf"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" reload >/dev/null 2>&1 || true
  fi
  if as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    PG_PORT=$(awk -F"= *" '/^port *=/{p=$2} END{print p+0}' "$PGDATA/postgresql.conf")
  else
    PG_PORT=$(free_port "$PG_PORT")
    echo "port = $PG_PORT" >> "$PGDATA/postgresql.conf"
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start >/dev/null
  fi
  if ! as_pg "$PG_BIN/psql" -h "$RUN" -p "$PG_PORT" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='$DB'" postgres | grep -q 1; then
    as_pg "$PG_BIN/createdb" -h "$RUN" -p "$PG_PORT" -U postgres "$DB"
  fi
  backrest_up
}

# pgBackRest's config, rewritten on every start (the port may have changed); the stanza (the repository's
# record of this cluster) created once. A cluster made before archiving was added is left alone: docs/operations.md
# says how to turn it on.
backrest_up() {
  grep -Eq "^archive_mode *= *on" "$PGDATA/postgresql.conf" || return 0
  command -v pgbackrest >/dev/null || { echo "services.sh: pgbackrest is missing (make system-deps installs it)" >&2; exit 1; }
  mkdir -p "$BACKREST_DIR/log" "$BACKREST_DIR/lock" "$BACKREST_REPO"
  if [ "$(id -u)" = 0 ]; then chown postgres "$BACKREST_DIR" "$BACKREST_DIR/log" "$BACKREST_DIR/lock" "$BACKREST_REPO"; fi
  cat > "$BACKREST_CONF" <<CONF
# Written by scripts/services.sh on every start; edit that script, not this file.
[global]
repo1-path=$BACKREST_REPO
# Two full backups kept (with their diff/incr backups and the WAL to replay from the oldest one).
repo1-retention-full=2
compress-type=lz4
start-fast=y
log-path=$BACKREST_DIR/log
lock-path=$BACKREST_DIR/lock
log-level-console=warn
log-level-file=info

[$STANZA]
pg1-path=$PGDATA
pg1-port=$PG_PORT
pg1-socket-path=$RUN
pg1-user=postgres
CONF
  if [ ! -f "$BACKREST_REPO/backup/$STANZA/backup.info" ]; then
    as_pg pgbackrest --config="$BACKREST_CONF" --stanza="$STANZA" stanza-create >/dev/null
  fi
}

redis_up() {
  mkdir -p "$DATA/redis"
  local pid
  pid=$(cat "$DATA/redis/redis.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ -f "$DATA/redis/port" ]; then
    REDIS_PORT=$(cat "$DATA/redis/port")
  else
    REDIS_PORT=$(free_port "$REDIS_PORT")
    echo "$REDIS_PORT" > "$DATA/redis/port"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$DATA/redis" --pidfile "$DATA/redis/redis.pid" --logfile "$DATA/redis/redis.log" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

case "${1:-up}" in
  up)
    pg_up
    redis_up
    # The ports actually in use, for make, the settings' defaults (app/config.py) and the tests.
    printf 'export SLAMON_DATABASE_URL=postgresql://postgres@127.0.0.1:%s/%s\nexport SLAMON_REDIS_URL=redis://127.0.0.1:%s/0\n' \
      "$PG_PORT" "$DB" "$REDIS_PORT" > "$ENV_FILE"
    cat "$ENV_FILE"
    ;;
  down)
    if [ -f "$PGDATA/PG_VERSION" ]; then as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true; fi
    if [ -f "$DATA/redis/port" ]; then redis-cli -p "$(cat "$DATA/redis/port")" shutdown nosave >/dev/null 2>&1 || true; fi
    rm -f "$ENV_FILE"
    echo "services stopped"
    ;;
  status)
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status || true
    [ -f "$ENV_FILE" ] && cat "$ENV_FILE"
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
