#!/usr/bin/env bash
# Runs a benchmark script on the previous code and on this checkout, alternating (old, new, old,
# new, …), RUNS times each, in one run of this script, so both sides meet the same machine:
#   scripts/bench-compare.sh REV RUNS SCRIPT [ARGS...]
#   e.g. scripts/bench-compare.sh f3f3440 3 scripts/bench.sh 10
# REV is built once (by scripts/build-rev.sh) and kept in .data/bench-old/REV. Each run's table is printed under a heading naming its side.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n 2,7p "$0" >&2; exit 2; }
rev=$(git rev-parse --short "$1") runs=$2 script=$3
shift 3
old="$PWD/.data/bench-old/$rev"
target=${CARGO_TARGET_DIR:-$PWD/target}
bins=(alertrouter loadgen deliverybench statsbench)
if [ ! -x "$old/alertrouter" ]; then
  echo "building $rev..." >&2
  # Older commits may lack a bench binary: build what they have.
  have=()
  for b in "${bins[@]}"; do
    git cat-file -e "$rev:src/bin/$b.rs" 2>/dev/null || [ "$b" = alertrouter ] && have+=("$b")
  done
  scripts/build-rev.sh "$rev" release "$old" "${have[@]}"
fi
echo "building this checkout..." >&2
cargo build --release --quiet "${bins[@]/#/--bin=}"
new="$target/release"
for i in $(seq "$runs"); do
  for side in old new; do
    if [ $side = old ]; then dir=$old; name="previous code ($rev)"; else dir=$new; name="this checkout ($(git rev-parse --short HEAD))"; fi
    echo
    echo "### run $i, $name"
    BENCH_BIN=$dir bash "$script" "$@" 2>/dev/null
  done
done
