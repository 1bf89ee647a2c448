#!/usr/bin/env bash
# Ingest benchmark: starts a throwaway Postgres and the release build, measures, prints one table.
#   scripts/bench.sh [SECONDS_PER_RUN]     (default 10)
# Rows: (a) pgbench running the single-row upsert ingest does on a group, the machine's limit;
# (b) new-incident webhooks of 1 alert; (c) webhooks of 100 new alerts; (d) no-change re-sends
# (answered from the dedup cache) and (d') the same with the cache off (one database read each);
# then the RSS of alertrouter with at least 100,000 open alerts stored; (e) webhooks of 10,000 new
# alerts (a huge group, 2 connections) with the peak RSS after them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=32
port=55434
dir="$PWD/.data/bench-pg"
work="$PWD/.data/bench"

rm -rf "$work"
mkdir -p "$work"
pg_port=$port
source scripts/bench-lib.sh
bench_build alertrouter loadgen

head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
write_config() { # $1 = file, $2 = dedup cache entries
  cat > "$1" <<CFG
listen: 127.0.0.1:19095
database: {url: "$url", max_connections: ${BENCH_DB_CONNECTIONS:-8}}
ingest: {dedup_cache_entries: $2}
integrations: [{name: bench, bearer_token_file: token}]
log: {format: json, level: warn}
CFG
}
write_config "$work/cache.yaml" 65536
write_config "$work/nocache.yaml" 0
"$bin/alertrouter" migrate --config "$work/cache.yaml" >/dev/null

start_server() { bench_serve 19095 --config "$1"; }
stop_server() { bench_stop; }
load() { "$bin/loadgen" --url http://127.0.0.1:19095/hooks/alertmanager --token "@$work/token" \
  --connections "${CONNS:-$conns}" --duration "${secs}s" --json "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# (a) The same single-row upsert ingest runs on the group row, through pgbench.
psql -q "$url" -c "create table bench_upsert (integration text, group_key text, version bigint,
  primary key (integration, group_key))" >/dev/null
cat > "$work/upsert.sql" <<'SQL'
\set k random(1, 1000000000)
insert into bench_upsert as g (integration, group_key, version) values ('bench', 'group-' || :k, 1)
  on conflict (integration, group_key) do update set version = g.version + 1;
SQL
echo "(a) pgbench..." >&2
pg_out=$(pgbench -n -c $conns -j 2 -T "$secs" -f "$work/upsert.sql" "$url" 2>&1)
pg_tps=$(echo "$pg_out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -n1)
pg_lat=$(echo "$pg_out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')

start_server "$work/cache.yaml"
echo "(b) new incidents, 1 alert..." >&2
b=$(load --scenario new --alerts 1 --run-id b)
echo "(c) 100 alerts per webhook..." >&2
c=$(load --scenario new --alerts 100 --run-id c)
echo "(d) no-change re-sends (cache)..." >&2
d=$(load --scenario replay --alerts 2 --groups 2000 --run-id d)
open_alerts=$(psql -tA "$url" -c "select count(*) from alerts where status = 'firing'")
rss_kib=$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")
hwm_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
echo "(e) 10,000 alerts per webhook..." >&2
e=$(CONNS=2 load --scenario new --alerts 10000 --run-id e)
e_hwm_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server_pid/status")
stop_server

start_server "$work/nocache.yaml"
echo "(d') no-change re-sends (no cache)..." >&2
d2=$(load --scenario replay --alerts 2 --groups 2000 --run-id d2)
stop_server

row() { # name, json, unit(webhooks|alerts)
  local rate p50 p99 p999 failed
  if [ "$3" = alerts ]; then rate=$(field "$2" alerts_per_s); else rate=$(field "$2" webhooks_per_s); fi
  rate=$(printf '%.0f' "$rate")
  p50=$(field "$2" p50_ms); p99=$(field "$2" p99_ms); p999=$(field "$2" p999_ms)
  failed=$(field "$2" webhooks_failed)
  printf '| %s | %s %s/s | %s | %s | %s | %s | %.2f |\n' "$1" "$rate" "$3" "$p50" "$p99" "$p999" "$failed" \
    "$(python3 -c "print($rate/$pg_tps)")"
}
echo
echo "Ingest benchmark: $(nproc) cores, $conns connections, ${secs}s per run, load generator on the same machine, fsync on."
echo
echo "| run | throughput | p50 ms | p99 ms | p99.9 ms | failed | ratio to (a) |"
echo "|---|---|---|---|---|---|---|"
printf '| (a) pgbench single-row upsert | %.0f tx/s | | | | | 1.00 |\n' "$pg_tps"
row "(b) new incident, 1 alert/webhook" "$b" webhooks
row "(c) 100 alerts/webhook" "$c" alerts
row "(d) no-change re-send (dedup cache)" "$d" webhooks
row "(d') no-change re-send (cache off)" "$d2" webhooks
row "(e) 10,000 alerts/webhook, 2 connections" "$e" alerts
echo
echo "pgbench average latency: ${pg_lat} ms. alertrouter RSS with $open_alerts open alerts stored: $((rss_kib / 1024)) MiB (peak $((hwm_kib / 1024)) MiB); peak after (e): $((e_hwm_kib / 1024)) MiB."
