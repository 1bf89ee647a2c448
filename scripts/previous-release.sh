#!/usr/bin/env bash
# Builds the previous release's binary (tests/upgrade/previous-release names it) once, with
# scripts/build-rev.sh, keeps it in .data/previous-release/COMMIT/alertrouter and prints that path.
#   scripts/previous-release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
. tests/upgrade/previous-release
rev=$(git rev-parse --verify --quiet "$commit^{commit}" || true)
if [ -z "$rev" ]; then
  # A shallow clone: fetch the release's commit.
  git fetch --quiet --unshallow >&2 2>/dev/null || git fetch --quiet origin "$commit" >&2
  rev=$(git rev-parse --verify "$commit^{commit}")
fi
out="$PWD/.data/previous-release/$commit"
if [ ! -x "$out/alertrouter" ]; then
  echo "building the previous release ($commit) for the upgrade test..." >&2
  scripts/build-rev.sh "$rev" dev "$out" alertrouter
fi
echo "$out/alertrouter"
