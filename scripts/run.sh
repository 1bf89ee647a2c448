#!/usr/bin/env bash
# Runs alertrouter with the shipped demo config (alertrouter.yaml, or $ALERTROUTER_CONFIG).
# Without DATABASE_URL / ALERTROUTER_DATABASE_URL it starts a throwaway Postgres under .data/.
set -euo pipefail
cd "$(dirname "$0")/.."

config=${ALERTROUTER_CONFIG:-alertrouter.yaml}
if [ -z "${DATABASE_URL:-}${ALERTROUTER_DATABASE_URL:-}" ]; then
  DATABASE_URL=$(scripts/pg.sh start "$PWD/.data/pg" "${ALERTROUTER_PG_PORT:-55432}" alertrouter)
  export DATABASE_URL
  echo "run.sh: throwaway Postgres at $DATABASE_URL (data in .data/pg; scripts/pg.sh stop .data/pg stops it)" >&2
fi

# The demo integration's bearer token: generated once, never printed, read by both sides.
token=.data/alertmanager-token
# The demo API's token secret, the same way (alertrouter token issue mints tokens from it).
for secret in "$token" .data/api-secret; do
  if [ ! -s "$secret" ]; then
    mkdir -p .data
    (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$secret")
  fi
done

cargo build --release --quiet --bin alertrouter
bin=${CARGO_TARGET_DIR:-target}/release/alertrouter
"$bin" check-config --config "$config" >&2
"$bin" migrate --config "$config" >&2

listen=$(sed -n 's/^listen:[[:space:]]*//p' "$config" | tr -d '"' | head -n1)
listen=${ALERTROUTER_LISTEN:-${listen:-127.0.0.1:9095}}
cat >&2 <<SNIPPET

Paste into alertmanager.yml (receivers:) to send alerts here:

  - name: alertrouter
    webhook_configs:
      - url: http://${listen}/hooks/alertmanager
        send_resolved: true
        max_alerts: 10000
        http_config:
          authorization:
            type: Bearer
            credentials_file: $PWD/$token


API token for trying /api/v1 (1 h): $bin token issue --config $config --sub you --role sre
SNIPPET
exec "$bin" serve --config "$config"
