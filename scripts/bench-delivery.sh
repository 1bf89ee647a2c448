#!/usr/bin/env bash
# Delivery benchmark on a throwaway Postgres and the release build, against fake receivers that
# answer at once (run by the deliverybench binary), with rate limits set out of the way:
#  1. latency: new incidents at RATE/s (default 200) for 10 s, each paging its team's Slack
#     channel; time from the webhook's 2xx (its commit) to the fake Slack's chat.postMessage.
#  2. throughput: ROWS due notifications (default 20,000) over Slack, SMS, e-mail, PagerDuty and
#     webhooks to 1,000 people (100 services, 100 webhooks); deliveries/s until the last is sent.
#   scripts/bench-delivery.sh [RATE] [ROWS]
set -euo pipefail
cd "$(dirname "$0")/.."
rate=${1:-200}
rows=${2:-20000}
port=55436
dir="$PWD/.data/bench-dlv-pg"
work="$PWD/.data/bench-dlv"
fake=19097
smtp=19098

rm -rf "$work"
mkdir -p "$work/routes" "$work/policies"
pg_port=$port
source scripts/bench-lib.sh
if [ -n "${BENCH_SLOW_MS:-}" ]; then  # log statements slower than this, to find what limits a run
  psql -q "$url" -c "alter system set log_min_duration_statement = $BENCH_SLOW_MS" -c "select pg_reload_conf()" >/dev/null
fi
bench_build alertrouter deliverybench
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/token"
cat > "$work/alertrouter.yaml" <<CFG
listen: 127.0.0.1:19096
database: {url: "$url"}
integrations: [{name: bench, bearer_token_file: token}]
log: {format: json, level: warn}
channels:
  slack: {url: "http://127.0.0.1:$fake/api", bot_token: xoxb-bench}
  sms: {url: "http://127.0.0.1:$fake", account_sid: AC1, auth_token: bench, from: "+15005550006"}
  pagerduty: {url: "http://127.0.0.1:$fake/v2/enqueue"}
  email: {host: 127.0.0.1, port: $smtp, tls: none, from: alertrouter@example.com}
  rate_limits:
    slack: {per_destination: "off", global: "off"}
    sms: {per_destination: "off", global: "off"}
    pagerduty: {per_destination: "off", global: "off"}
CFG
python3 - "$work" "$fake" <<'PY'
import sys
work, fake = sys.argv[1], sys.argv[2]
teams = 20
with open(f"{work}/routes/bench.yaml", "w") as f:
    f.write("route:\n  policy: t0\n  routes:\n")
    for t in range(teams):
        f.write(f"    - {{matchers: ['team=\"t{t}\"'], policy: t{t}}}\n")
with open(f"{work}/policies/bench.yaml", "w") as f:
    f.write("users:\n")
    for u in range(1000):
        f.write(f"  - {{name: u{u}, slack_id: U{u:08d}, email: u{u}@example.com, phone: \"+1555{u:07d}\", contact: [slack]}}\n")
    f.write("escalation_policies:\n")
    for t in range(teams):
        f.write(f"  - {{name: t{t}, steps: [{{delay: 0s, targets: ['slack_channel:t{t}'], via: [slack]}}]}}\n")
    f.write("destinations:\n  slack_channels:\n")
    for t in range(teams):
        f.write(f"    t{t}: C{t:08d}\n")
    f.write("  pagerduty_services:\n")
    for s in range(100):
        f.write(f"    s{s}: ${{PD_KEY}}\n")
    f.write("  webhooks:\n")
    for w in range(100):
        f.write(f"    w{w}: http://127.0.0.1:{fake}/webhook/w{w}\n")
PY
export PD_KEY=0123456789abcdef0123456789abcdef
"$bin/alertrouter" check-config --config "$work/alertrouter.yaml" >/dev/null
"$bin/alertrouter" migrate --config "$work/alertrouter.yaml" >/dev/null
bench_serve 19096 --config "$work/alertrouter.yaml"

field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
echo "(1) commit → Slack at $rate incidents/s..." >&2
lat=$("$bin/deliverybench" --fake-port $fake --smtp-port $smtp --json latency \
  --token-file "$work/token" --rate "$rate" --seconds 10)
# Claims of run 2 alone: the claim-size histogram's count and sum, before and after.
claims() { curl -sf http://127.0.0.1:19096/metrics | awk '/^alertrouter_delivery_claim_batch_size_(count|sum) /{printf "%s ", $2}' || true; }
before=$(claims)
echo "(2) $rows notifications over every channel..." >&2
thr=$("$bin/deliverybench" --fake-port $fake --smtp-port $smtp --json throughput \
  --database-url "$url" --rows "$rows" ${BENCH_CHANNELS:+--channels "$BENCH_CHANNELS"})
after=$(claims)
claims_line="claims not counted by this build"
if [ -n "$before" ] && [ -n "$after" ]; then
  read -r s0 c0 <<<"$before"
  read -r s1 c1 <<<"$after"
  claims_line=$(python3 -c "import sys; s0,c0,s1,c1=map(float,sys.argv[1:]); n=c1-c0; print(f'{n:.0f} claims of {(s1-s0)/max(n,1):.1f} rows')" "$s0" "$c0" "$s1" "$c1")
fi

echo
echo "Delivery benchmark: $(nproc) cores, fakes answering at once on the same machine, rate limits off, fsync on."
echo
echo "| run | result | target |"
echo "|---|---|---|"
printf '| commit → fake Slack, %s new incidents/s (%s incidents, %s lost) | p50 %.1f ms, p99 %.1f ms | p99 ≤ 100 ms |\n' \
  "$rate" "$(field "$lat" incidents)" "$(field "$lat" missing)" "$(field "$lat" p50_ms)" "$(field "$lat" p99_ms)"
printf '| deliveries over Slack, SMS, e-mail, PagerDuty, webhooks (%s, 1,000 people) | %.0f/s (%.1f s; %s) | ≥ 5,000/s |\n' \
  "$(field "$thr" sent)" "$(field "$thr" deliveries_per_s)" "$(field "$thr" seconds)" "$claims_line"
