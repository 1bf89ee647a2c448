#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser that reads outside text (fuzz/, cargo-fuzz on the
# nightly toolchain, libFuzzer). Corpora are seeded from the fixtures and the shipped config,
# kept in .data/fuzz/corpus between runs; a crash is saved under fuzz/artifacts and fails the run
# (copy it to fuzz/regressions/TARGET/ and it is replayed by every later run, and by
# `scripts/fuzz.sh --replay`). Prints runs and corpus size per target.
#   scripts/fuzz.sh [SECONDS_PER_TARGET (default 600)] [TARGET...]
#   scripts/fuzz.sh --replay            run every target over its regressions and seeds only
set -euo pipefail
cd "$(dirname "$0")/.."
targets_all=(webhook matchers time_interval config slack_interaction twilio_sms pagerduty jwt)
replay=""
if [ "${1:-}" = --replay ]; then replay=1; shift; fi
secs=${1:-600}
[ $# -gt 0 ] && shift
targets=("$@"); [ ${#targets[@]} -eq 0 ] && targets=("${targets_all[@]}")
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
rustup toolchain list | grep -q nightly || { echo "fuzz.sh: needs the nightly toolchain (rustup toolchain install nightly)" >&2; exit 1; }
corpus=.data/fuzz/corpus
seed() {  # seed TARGET FILE...
  mkdir -p "$corpus/$1"; shift_t=$1; shift
  for f in "$@"; do cp "$f" "$corpus/$shift_t/"; done
}
seed_text() {  # seed_text TARGET NAME TEXT
  mkdir -p "$corpus/$1"; printf '%s' "$3" > "$corpus/$1/$2"
}
seed webhook tests/fixtures/*.json
for m in 'severity="critical"' '{alertname=~"High.*", team!="db"}' 'a!~"x|y"' '{foo="bar\"baz", qux=""}'; do
  seed_text matchers "m$((i=${i:-0}+1))" "$m"
done
for t in '09:00' '24:00' 'monday:friday' 'saturday' '1:5' '-3:-1' 'january:march' '2026:2030' '12'; do
  seed_text time_interval "t$((j=${j:-0}+1))" "$t"
done
{ cat alertrouter.yaml; printf '\0'; cat routes/default.yaml; printf '\0'; cat policies/*.yaml; } > /tmp/fuzz-config-seed
seed config /tmp/fuzz-config-seed
seed_text slack_interaction click "payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U1%22%7D%2C%22response_url%22%3A%22https%3A%2F%2Fhooks.slack.com%2Fa%22%2C%22actions%22%3A%5B%7B%22action_id%22%3A%22incident_ack%22%2C%22block_id%22%3A%22b%22%2C%22value%22%3A%22INC-42%22%2C%22type%22%3A%22button%22%2C%22action_ts%22%3A%221%22%7D%5D%7D"
seed_text twilio_sms ack "Body=ack+42&From=%2B15551234567&To=%2B15005550006&MessageSid=SM1"
seed_text twilio_sms resolve "Body=RESOLVE%20INC-202612011200&From=%2B15551234567"
seed_text pagerduty ack '{"event":{"id":"01DEN4HPBQAE8ZCQVKH4Q5XSUB","event_type":"incident.acknowledged","resource_type":"incident","occurred_at":"2026-12-01T12:00:00Z","agent":{"summary":"Alice"},"data":{"incident_key":"0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}}}'
seed_text jwt hs256 "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsInJvbGUiOiJzcmUiLCJleHAiOjE3NjQ2MDM2MDAsImlzcyI6ImFsZXJ0cm91dGVyIn0.c2lnbmF0dXJl"
seed_text jwt rs256 "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.e30.c2ln"

# Built once for every target, so editing src/ during a long run changes nothing under it.
echo "fuzz.sh: building the targets (cargo +nightly fuzz build)" >&2
cargo +nightly fuzz build --sanitizer none >.data/fuzz/build.log 2>&1 || { cat .data/fuzz/build.log >&2; exit 1; }
bins=fuzz/target/$(rustc +nightly -vV | sed -n 's/^host: //p')/release
echo "| target | runs | seconds | corpus | crashes |"
echo "|---|---|---|---|---|"
failed=0
for t in "${targets[@]}"; do
  extra=()
  [ -d "fuzz/regressions/$t" ] && extra+=("fuzz/regressions/$t")
  log=.data/fuzz/$t.log
  if [ -n "$replay" ]; then
    args=(-runs=0)
  else
    args=(-max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048)
  fi
  rc=0
  mkdir -p "fuzz/artifacts/$t"
  "$bins/$t" -artifact_prefix="fuzz/artifacts/$t/" "${args[@]}" "$corpus/$t" "${extra[@]}" >"$log" 2>&1 || rc=$?
  runs=$(grep -Eo 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1 | awk '{print $2" "$5}')
  crashes=$(ls "fuzz/artifacts/$t" 2>/dev/null | wc -l)
  echo "| $t | ${runs% *} | ${runs#* } | $(ls "$corpus/$t" | wc -l) | $crashes |"
  if [ "$rc" -ne 0 ]; then failed=1; echo "fuzz.sh: $t failed (rc=$rc); see $log" >&2; fi
done
exit $failed
