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
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} for the browser tests" >&2
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_=sudo
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >&2 || {
    $sudo_ apt-get update >&2 && $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}" >&2; }
fi
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  npm ci --prefix tests/browser --no-audit --no-fund --silent
fi

# The previous release, for the rolling-upgrade test (tests/it/upgrade.rs), built once.
ALERTROUTER_PREVIOUS_BIN=$(scripts/previous-release.sh)
export ALERTROUTER_PREVIOUS_BIN

if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-targets --no-fail-fast "$@"
  cargo test --doc --quiet
else
  cargo test --all-targets --no-fail-fast "$@"
fi
# The Kubernetes manifests against the Kubernetes schemas (tests/it/deploy.rs checks the rest).
scripts/check-deploy.sh
