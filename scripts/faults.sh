#!/usr/bin/env bash
# The fault-injection suite: release builds of alertrouter as separate processes on a throwaway
# Postgres, a fake webhook receiver checking signatures, and a load that re-sends like
# Alertmanager, all on 127.0.0.1. Prints one table row per scenario (src/bin/faults); exits
# non-zero when a row breaks a promise.
#   scripts/faults.sh [--short] [SCENARIO...]     (default: every scenario, full length)
#   scripts/faults.sh --soak MINUTES [--svg FILE]  a soak instead, sampled every minute
# Runs side by side when each run has its own FAULTS_PG_PORT (its folders are named for it).
set -euo pipefail
cd "$(dirname "$0")/.."
port=${FAULTS_PG_PORT:-55437}
suffix=${FAULTS_PG_PORT:+-$FAULTS_PG_PORT}
dir="$PWD/.data/faults-pg$suffix"
work="$PWD/.data/faults$suffix"
scripts/pg.sh fresh "$dir" "$port" >/dev/null
trap 'scripts/pg.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
if [ -z "${FAULTS_BIN:-}" ]; then
  echo "building release binaries..." >&2
  cargo build --release --quiet --bin alertrouter --bin faults
fi
bin=${FAULTS_BIN:-${CARGO_TARGET_DIR:-target}/release}
rm -rf "$work"; mkdir -p "$work"
"$bin/faults" --bin "$bin/alertrouter" --pg-dir "$dir" --pg-port "$port" --work "$work" \
  --json "$work/rows.jsonl" "$@"
