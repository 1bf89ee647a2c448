#!/usr/bin/env bash
# Memory over time: the release build on the shipped routes and policies (pages go to the log
# channel), a throwaway Postgres, and a mixed load (new alerts, resolutions, exact re-sends, so
# ingest, escalations and deliveries all run) for SECONDS (default 600); alertrouter's RSS is
# sampled every 10 s and printed as a table, with the first, last and highest sample.
#   scripts/bench-memory.sh [SECONDS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
conns=${2:-8}
port=55438
dir="$PWD/.data/bench-mem-pg"
work="$PWD/.data/bench-mem"

rm -rf "$work"
mkdir -p "$work"
pg_port=$port
source scripts/bench-lib.sh
bench_build alertrouter loadgen
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/api-secret"
ln -s "$PWD/routes" "$work/routes"
ln -s "$PWD/policies" "$work/policies"
cat > "$work/alertrouter.yaml" <<CFG
listen: 127.0.0.1:19098
database: {url: "$url", max_connections: 8}
integrations: [{name: bench, bearer_token_file: token}]
api: {jwt: {hs256_secret_file: api-secret}}
channels: {log: [slack, sms, email, pagerduty, webhook]}
log: {format: json, level: warn}
CFG
bench_serve 19098 --config "$work/alertrouter.yaml"
"$bin/loadgen" --url http://127.0.0.1:19098/hooks/alertmanager --token "@$work/token" \
  --scenario mix --groups 5000 --connections "$conns" --duration "${secs}s" --json --run-id mem \
  > "$work/load.json" &
load_pid=$!
samples=()
for ((t = 10; t <= secs; t += 10)); do
  sleep 10
  samples+=("$t $(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")")
done
wait $load_pid
echo
echo "Memory over time: $(nproc) cores, mixed load at $conns connections for ${secs}s: $(python3 -c "import json; d=json.load(open('$work/load.json')); print(f\"{round(d['webhooks_per_s'])} webhooks/s, {d['webhooks_failed']} failed\")")."
echo "Rows at the end: $(psql -tA "$url" -c "select (select count(*) from incidents) || ' incidents, ' || (select count(*) from alerts) || ' alerts, ' || (select count(*) from outbox) || ' outbox rows'")."
echo
echo "| s | RSS MiB |"
echo "|---|---|"
for s in "${samples[@]}"; do read -r t kib <<<"$s"; printf '| %s | %.1f |\n' "$t" "$(python3 -c "print($kib/1024)")"; done
printf '%s\n' "${samples[@]}" | python3 -c "
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
mib = [int(k) / 1024 for _, k in rows]
print()
print(f'first {mib[0]:.1f} MiB, last {mib[-1]:.1f} MiB, highest {max(mib):.1f} MiB, lowest {min(mib):.1f} MiB')
"
