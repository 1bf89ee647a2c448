#!/usr/bin/env bash
# Runs the whole test suite against a throwaway Postgres it starts itself.
#   scripts/test.sh [extra cargo-nextest/cargo test args]
set -euo pipefail
cd "$(dirname "$0")/.."

port=${ALERTROUTER_TEST_PG_PORT:-55433}
dir="$PWD/.data/test-pg"
# A fresh cluster every run: tests start from nothing but the migrations.
url=$(scripts/pg.sh fresh "$dir" "$port")
trap 'scripts/pg.sh stop "$dir" >/dev/null 2>&1 || true' EXIT
export ALERTROUTER_TEST_DATABASE_URL="$url"
# The browser tests drive Debian's chromium through playwright-core (npm, pinned).
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --silent
fi

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-targets --no-fail-fast "$@"
  cargo test --doc --quiet
else
  cargo test --all-targets --no-fail-fast "$@"
fi
