#!/usr/bin/env bash
# Private PostgreSQL 15 + TimescaleDB and Redis for this checkout, under .data/, on their own ports.
# usage: services.sh up|down|status       (idempotent)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DATA=${SLAMON_DATA_DIR:-$ROOT/.data}
PG_PORT=${SLAMON_PG_PORT:-55432}
REDIS_PORT=${SLAMON_REDIS_PORT:-56379}
PG_BIN=/usr/lib/postgresql/15/bin
PGDATA=$DATA/pg
RUN=$DATA/run
DB=${SLAMON_DB_NAME:-slamon}

# initdb and postgres refuse to run as root: the cluster belongs to the postgres system user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_up() {
  mkdir -p "$DATA" "$RUN"
  if [ "$(id -u)" = 0 ]; then chown postgres "$RUN"; fi
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    mkdir -p "$PGDATA"
    [ "$(id -u)" = 0 ] && chown postgres "$PGDATA"
    as_pg "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >> "$PGDATA/postgresql.conf" <<CONF
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$RUN'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 512MB
synchronous_commit = off
timezone = 'UTC'
log_min_messages = warning
CONF
  fi
  if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 60 start >/dev/null
  fi
  if ! as_pg "$PG_BIN/psql" -h "$RUN" -p "$PG_PORT" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='$DB'" postgres | grep -q 1; then
    as_pg "$PG_BIN/createdb" -h "$RUN" -p "$PG_PORT" -U postgres "$DB"
  fi
}

redis_up() {
  mkdir -p "$DATA/redis"
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
      --dir "$DATA/redis" --pidfile "$DATA/redis/redis.pid" --logfile "$DATA/redis/redis.log" >/dev/null
    for _ in $(seq 50); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

case "${1:-up}" in
  up)
    pg_up
    redis_up
    echo "export SLAMON_DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/$DB"
    echo "export SLAMON_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
    ;;
  down)
    if [ -f "$PGDATA/PG_VERSION" ]; then as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true; fi
    redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    echo "services stopped"
    ;;
  status)
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA" status || true
    redis-cli -p "$REDIS_PORT" ping || true
    ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
