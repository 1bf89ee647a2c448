#!/usr/bin/env bash
# Escalation benchmark, two runs on a throwaway Postgres and the release build:
#  1. on time: N incidents (default 10,000) opened while the workers run; their first step falls
#     due 60 s later, in the window the opening took; lateness = fired - due.
#  2. capacity: N more incidents opened with the workers stopped (--role api), first step due at
#     once; then a --role worker process drains them: steps/s.
#   scripts/bench-escalation.sh [INCIDENTS]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
delay=${BENCH_STEP_DELAY:-60s}
port=55435
dir="$PWD/.data/bench-esc-pg"
work="$PWD/.data/bench-esc"

rm -rf "$work"
mkdir -p "$work/routes" "$work/policies"
pg_port=$port
source scripts/bench-lib.sh
bench_build alertrouter loadgen
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
cat > "$work/alertrouter.yaml" <<CFG
listen: 127.0.0.1:19096
database: {url: "$url"}
integrations: [{name: bench, bearer_token_file: token}]
log: {format: json, level: warn}
CFG
cat > "$work/policies/bench.yaml" <<CFG
users: [{name: oncall, phone: "+15555550100", contact: [sms]}]
escalation_policies:
  - name: bench
    steps: [{delay: $delay, targets: [user:oncall], via: [sms, slack]}]
  - name: bench-now
    steps: [{delay: 0s, targets: [user:oncall], via: [sms, slack]}]
CFG
cat > "$work/routes/bench.yaml" <<CFG
route:
  policy: bench
  routes:
    - matchers: ['group=~"cap-.*"']
      policy: bench-now
CFG
bench_serve 19096 --config "$work/alertrouter.yaml"

echo "opening $n incidents..." >&2
open=$("$bin/loadgen" --url http://127.0.0.1:19096/hooks/alertmanager --token "@$work/token" \
  --scenario new --count "$n" --duration 600s --json --run-id esc)
echo "waiting for every first step (due $delay after opening) to fire..." >&2
for _ in $(seq 600); do
  fired=$(psql -tA "$url" -c "select count(*) from incident_events where kind = 'escalated'")
  [ "$fired" -ge "$n" ] && break
  sleep 1
done
psql -tA -F ' ' "$url" -c "
  with e as (
    select received_at, extract(epoch from received_at - (detail->>'due_at')::timestamptz) as late,
           (detail->>'due_at')::timestamptz as due
    from incident_events e join incidents i on i.id = e.incident_id
    where e.kind = 'escalated' and i.group_key not like '%cap-%')
  select count(*),
         round(extract(epoch from max(due) - min(due))::numeric, 2),
         round(percentile_cont(0.5) within group (order by late)::numeric, 3),
         round(percentile_cont(0.99) within group (order by late)::numeric, 3),
         round(max(late)::numeric, 3),
         round((count(*) / greatest(extract(epoch from max(received_at) - min(received_at)), 0.001))::numeric, 0)
  from e" > "$work/result"
read -r steps window p50 p99 max rate < "$work/result"

# 2. Capacity: open N incidents with no worker running, then let one worker process drain them.
bench_stop
bench_serve 19096 --role api --config "$work/alertrouter.yaml"
echo "capacity: opening $n incidents with the workers stopped..." >&2
"$bin/loadgen" --url http://127.0.0.1:19096/hooks/alertmanager --token "@$work/token" \
  --scenario new --count "$n" --duration 600s --json --run-id cap >/dev/null
bench_stop
ALERTROUTER_LISTEN=127.0.0.1:19097 "$bin/alertrouter" serve --role worker --config "$work/alertrouter.yaml" >>"$work/server.log" 2>&1 &
server_pid=$!
echo "capacity: draining..." >&2
for _ in $(seq 600); do
  fired=$(psql -tA "$url" -c "select count(*) from incident_events where kind = 'escalated'")
  [ "$fired" -ge $((2 * n)) ] && break
  sleep 1
done
cap=$(psql -tA "$url" -c "
  select round((count(*) / greatest(extract(epoch from max(e.received_at) - min(e.received_at)), 0.001))::numeric, 0)
  from incident_events e join incidents i on i.id = e.incident_id
  where e.kind = 'escalated' and i.group_key like '%cap-%'")
rows=$(psql -tA "$url" -c "select count(*) from outbox")
echo
echo "Escalation benchmark: $(nproc) cores, fsync on. Run 1: $n incidents opened by loadgen at $(python3 -c "import json,sys; print(round(json.loads(sys.argv[1])['webhooks_per_s']))" "$open")/s, first step due $delay later. Run 2: $n steps all due at once, one worker process."
echo
echo "| run | steps fired | due within | lateness p50 | lateness p99 | lateness max | steps/s |"
echo "|---|---|---|---|---|---|---|"
echo "| 1. on time, workers running | $steps | ${window} s | ${p50} s | ${p99} s | ${max} s | $rate (as they fall due) |"
echo "| 2. capacity, all due at once | $n | 0 s | | | | $cap |"
echo
echo "Outbox rows written: $rows (two channels per step)."
