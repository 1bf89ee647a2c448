#!/usr/bin/env bash
# Builds binaries of another commit of alertrouter, in a temporary worktree sharing this
# checkout's build directory (its dependencies are not built again), and copies them to OUT:
#   scripts/build-rev.sh REV PROFILE OUT BIN...      (PROFILE: dev or release)
# The worktree's package is renamed first: cargo names a workspace member's build products by
# its package name and version, not its path, so an unrenamed build of another commit would
# take the place of this checkout's in the build directory, and cargo would then go on using it
# as up to date.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n 2,8p "$0" >&2; exit 2; }
rev=$1 profile=$2 out=$3
shift 3
target=${CARGO_TARGET_DIR:-$PWD/target}
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
tree="$PWD/.data/build-rev-tree"
rm -rf "$tree"; git worktree prune
git worktree add -f --detach "$tree" "$rev" >/dev/null 2>&1
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || rm -rf "$tree"' EXIT
(
  cd "$tree"
  sed -i '0,/^name = "alertrouter"$/s//name = "alertrouter-rev"/' Cargo.toml
  printf '\n[lib]\nname = "alertrouter"\npath = "src/lib.rs"\n\n[[bin]]\nname = "alertrouter"\npath = "src/main.rs"\n' >> Cargo.toml
  ALERTROUTER_COMMIT=$(git rev-parse --short=12 HEAD) CARGO_TARGET_DIR="$target" \
    cargo build --quiet --profile "$profile" "${@/#/--bin=}" >&2
)
mkdir -p "$out"
for b in "$@"; do cp "$target/$dir/$b" "$out/$b.tmp" && mv "$out/$b.tmp" "$out/$b"; done
