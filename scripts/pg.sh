#!/usr/bin/env bash
# Starts (or reuses) a throwaway local PostgreSQL and prints its URL on stdout.
#   scripts/pg.sh start DATA_DIR PORT [DB] -> postgres://postgres@127.0.0.1:PORT/DB (default postgres)
#   scripts/pg.sh fresh DATA_DIR PORT [DB] -> the same, on a new empty cluster (an old one is removed)
#   scripts/pg.sh stop DATA_DIR
#   scripts/pg.sh standby DATA_DIR PORT PRIMARY_PORT -> a streaming standby of the server on
#                                       PRIMARY_PORT (pg_basebackup -R), started; its URL
#   scripts/pg.sh kill DATA_DIR         SIGKILL of the postmaster (a crash: no shutdown checkpoint)
#   scripts/pg.sh promote DATA_DIR      the standby becomes a primary (pg_ctl promote)
# Runs the server as the `postgres` user when invoked as root (PostgreSQL refuses root). If that
# user cannot write DATA_DIR's parent, a fresh folder under /tmp is used instead.
set -euo pipefail

log() { echo "pg.sh: $*" >&2; }

find_bin() {
  if command -v initdb >/dev/null 2>&1; then return; fi
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then PATH="$d:$PATH"; export PATH; return; fi
  done
  log "initdb not found: installing postgresql from the system's packages"
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2 || {
      apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2; }
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
  fi
  for d in /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then PATH="$d:$PATH"; export PATH; return; fi
  done
  log "postgresql installed but initdb still not found"; exit 1
}

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

cmd=${1:?usage: pg.sh start|stop DATA_DIR [PORT]}
dir=${2:?data directory}
port=${3:-55432}
db=${4:-postgres}
find_bin

# The directory actually used is remembered next to the requested one, so stop finds it.
pointer="$dir.location"
if [ -f "$pointer" ]; then dir=$(cat "$pointer"); fi

if [ "$cmd" = kill ]; then
  pid=$(head -1 "$dir/postmaster.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  exit 0
fi
if [ "$cmd" = promote ]; then
  as_pg pg_ctl -D "$dir" -w -t 60 promote >&2
  exit 0
fi
if [ "$cmd" = standby ]; then
  primary_port=${4:?the port of the primary}
  db=postgres
  if [ -f "$dir/PG_VERSION" ]; then as_pg pg_ctl -D "$dir" -m immediate stop >&2 || true; fi
  rm -rf "$dir" "$pointer"
  dir=${2}
  mkdir -p "$dir"
  [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
  chmod 700 "$dir"
  echo "$dir" > "$pointer"
  as_pg pg_basebackup -h 127.0.0.1 -p "$primary_port" -U postgres -D "$dir" -R -X stream -c fast >&2
fi

if [ "$cmd" = stop ] || [ "$cmd" = fresh ]; then
  if [ -f "$dir/PG_VERSION" ]; then as_pg pg_ctl -D "$dir" -m fast stop >&2 || true; fi
  [ "$cmd" = stop ] && exit 0
  rm -rf "$dir" "$pointer"
  dir=${2}
  rm -rf "$dir"
fi

if [ ! -f "$dir/PG_VERSION" ]; then
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir" 2>/dev/null || true
    if ! runuser -u postgres -- test -w "$dir"; then
      dir=$(mktemp -d /tmp/alertrouter-pg.XXXXXX)
      chown postgres "$dir"
      log "postgres cannot write the requested folder; using $dir"
    fi
  fi
  echo "$dir" > "$pointer"
  as_pg initdb -D "$dir" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null 2>&1 \
    || as_pg initdb -D "$dir" -U postgres --auth=trust --encoding=UTF8 >&2
fi

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! as_pg pg_ctl -D "$dir" status >/dev/null 2>&1; then
  # Another server (another checkout's tests, say) may hold the port: take the next free one.
  tries=0
  while port_busy "$port"; do
    port=$((port + 1)); tries=$((tries + 1))
    [ "$tries" -lt 200 ] || { log "no free port found"; exit 1; }
  done
  as_pg pg_ctl -D "$dir" -l "$dir/server.log" -w -t 60 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=256MB" >&2 \
    || { log "postgres failed to start; its log:"; tail -n 30 "$dir/server.log" >&2; exit 1; }
fi
# The port it really listens on (a reused cluster keeps its own).
port=$(sed -n 4p "$dir/postmaster.pid" 2>/dev/null || echo "$port")
if [ "$db" != postgres ]; then
  as_pg createdb -h 127.0.0.1 -p "$port" -U postgres "$db" 2>/dev/null || true
fi
echo "postgres://postgres@127.0.0.1:$port/$db"
