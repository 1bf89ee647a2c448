#!/usr/bin/env bash
# Statistics benchmark on a throwaway Postgres and the release build: seeds a month of INCIDENTS
# incidents (default 100,000; and a tenth as many the month before) with their alerts,
# timelines and pages, then times the statistics (in total, by service, by severity) and the
# monthly report (Markdown, and HTML with its charts) as the API computes them.
#   scripts/bench-stats.sh [INCIDENTS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
incidents=${1:-100000}
runs=${2:-5}
pg_port=55437
dir="$PWD/.data/bench-stats-pg"
work="$PWD/.data/bench-stats"
mkdir -p "$work"
source scripts/bench-lib.sh
bench_build alertrouter statsbench
cat > "$work/alertrouter.yaml" <<CFG
database: {url: "$url"}
integrations: [{name: bench, bearer_token: bench}]
CFG
"$bin/alertrouter" migrate --config "$work/alertrouter.yaml" >/dev/null
"$bin/statsbench" --database-url "$url" seed --incidents "$incidents"
"$bin/statsbench" --database-url "$url" measure --runs "$runs"
