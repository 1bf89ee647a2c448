#!/usr/bin/env bash
# The peer row: alertrouter beside Alerta 9.1 (alerta-server from PyPI, a Python alert
# deduplicator with an Alertmanager webhook, /webhooks/prometheus), both on the same throwaway
# Postgres, driven by the same load generator with the same payloads, interleaved A B A B A B
# (three pairs), with the ratio per pair. Not part of CI (it installs Alerta from PyPI).
#   scripts/bench-peer.sh [SECONDS_PER_RUN]     (default 10)
# Alerta runs under gunicorn (gthread workers: 2 per core, 8 threads each, keep-alive, so the
# load generator's connections are kept as with alertrouter; the app loaded once before the
# workers fork, since each worker's start alters the schema and they deadlock), without
# authentication.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=32
port=55437
dir="$PWD/.data/bench-peer-pg"
work="$PWD/.data/bench-peer"
venv="$PWD/.data/alerta-venv"

rm -rf "$work"
mkdir -p "$work"
if [ ! -x "$venv/bin/gunicorn" ]; then
  echo "installing alerta-server 9.1 in $venv..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'alerta-server==9.1.0' gunicorn psycopg2-binary
fi
pg_port=$port
source scripts/bench-lib.sh
bench_build alertrouter loadgen
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
# Each pair starts both sides on empty databases of their own.
fresh_databases() { # pair
  ar_url="${url%/*}/alertrouter_$1" alerta_url="${url%/*}/alerta_$1"
  psql -q "$url" -c "create database alertrouter_$1" -c "create database alerta_$1" >/dev/null
  cat > "$work/alertrouter.yaml" <<CFG
listen: 127.0.0.1:19095
database: {url: "$ar_url", max_connections: 8}
integrations: [{name: bench, bearer_token_file: token}]
log: {format: json, level: warn}
CFG
  "$bin/alertrouter" migrate --config "$work/alertrouter.yaml" >/dev/null
  # Alerta creates its schema when its app starts: once here, not racing in every worker.
  DATABASE_URL="$alerta_url" AUTH_REQUIRED=False "$venv/bin/python" \
    -c 'from alerta import create_app; create_app()' >>"$work/alerta.log" 2>&1
}

alerta_pid=""
start_alerta() {
  DATABASE_URL="$alerta_url" AUTH_REQUIRED=False LOG_LEVEL=WARNING \
    "$venv/bin/gunicorn" --chdir "$work" -k gthread -w $(( 2 * $(nproc) )) --threads 8 \
    --keep-alive 30 --preload -b 127.0.0.1:19099 'alerta:create_app()' >>"$work/alerta.log" 2>&1 &
  alerta_pid=$!
  for _ in $(seq 100); do
    curl -sf http://127.0.0.1:19099/management/healthcheck >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "alerta did not start; log:" >&2; tail "$work/alerta.log" >&2; exit 1
}
stop_alerta() { kill "$alerta_pid"; wait "$alerta_pid" 2>/dev/null || true; alerta_pid=""; }
trap 'if [ -n "$alerta_pid" ]; then kill "$alerta_pid" 2>/dev/null || true; fi; bench_cleanup' EXIT

load() { # side, run id, loadgen args...
  local side=$1 id=$2
  shift 2
  if [ "$side" = alertrouter ]; then
    "$bin/loadgen" --url http://127.0.0.1:19095/hooks/alertmanager --token "@$work/token" \
      --connections $conns --duration "${secs}s" --json --run-id "$id" "$@"
  else
    "$bin/loadgen" --url http://127.0.0.1:19099/webhooks/prometheus --token '' \
      --connections $conns --duration "${secs}s" --json --run-id "$id" "$@"
  fi
}
field() { python3 -c "import json,sys; print(round(json.loads(sys.argv[1])[sys.argv[2]]))" "$1" "$2"; }

declare -A result
scenarios=(new1 new100 replay)
args_of() {
  case $1 in
    new1) echo "--scenario new --alerts 1" ;;
    new100) echo "--scenario new --alerts 100" ;;
    replay) echo "--scenario replay --alerts 2 --groups 2000" ;;
  esac
}
for pair in 1 2 3; do
  fresh_databases $pair
  for side in alertrouter alerta; do
    if [ $side = alertrouter ]; then bench_serve 19095 --config "$work/alertrouter.yaml"; else start_alerta; fi
    for s in "${scenarios[@]}"; do
      echo "pair $pair, $side, $s..." >&2
      # shellcheck disable=SC2046
      out=$(load $side "$side-$s-$pair" $(args_of "$s"))
      failed=$(field "$out" webhooks_failed)
      if [ "$s" = new100 ]; then rate=$(field "$out" alerts_per_s); else rate=$(field "$out" webhooks_per_s); fi
      result[$side,$s,$pair]="$rate $(field "$out" p99_ms) $failed"
    done
    if [ $side = alertrouter ]; then bench_stop; else stop_alerta; fi
  done
done

echo
echo "Peer benchmark: $(nproc) cores, $conns connections, ${secs}s per run, one Postgres, fsync on, runs interleaved A B A B A B."
echo
echo "| run | pair | alertrouter | alerta 9.1 | ratio |"
echo "|---|---|---|---|---|"
for s in "${scenarios[@]}"; do
  case $s in
    new1) name="new incident, 1 alert/webhook"; unit="webhooks/s" ;;
    new100) name="100 new alerts/webhook"; unit="alerts/s" ;;
    replay) name="no-change re-send"; unit="webhooks/s" ;;
  esac
  for pair in 1 2 3; do
    read -r a ap af <<<"${result[alertrouter,$s,$pair]}"
    read -r b bp bf <<<"${result[alerta,$s,$pair]}"
    ratio=$(python3 -c "print(f'{$a / max($b, 1):.1f}×')")
    echo "| $name | $pair | $a $unit (p99 $ap ms, $af failed) | $b $unit (p99 $bp ms, $bf failed) | $ratio |"
  done
done
