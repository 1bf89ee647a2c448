#!/usr/bin/env bash
# Records the SQL a build of alertrouter runs, as tests/it/upgrade.rs prepares it against a newer
# schema: the binary serves the shipped config on a throwaway Postgres, through
# scripts/pg-capture-proxy.py (which records every statement prepared, with the parameter types
# the client declared), takes the fixtures' webhooks, escalates and delivers (log channel),
# answers API reads and actions and a metrics scrape; then every statement is written to OUTPUT.
#   scripts/capture-release-sql.sh BIN OUTPUT
#   e.g. scripts/capture-release-sql.sh "$(scripts/previous-release.sh)" tests/upgrade/schema-16.sql
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:?binary}") output=${2:?output file}
dir="$PWD/.data/capture-pg" port=55471
url=$(scripts/pg.sh fresh "$dir" "$port" alertrouter)
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
proxy_port=$(free_port)
python3 scripts/pg-capture-proxy.py "$proxy_port" "$port" "$work/statements.jsonl" &
proxy=$!
proxied="postgres://postgres@127.0.0.1:$proxy_port/alertrouter?sslmode=disable"
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$proxy_port") 2>/dev/null && break; sleep 0.05; done
cp -r alertrouter.yaml routes policies "$work/"
mkdir -p "$work/.data"
echo capture-token > "$work/.data/alertmanager-token"
head -c 32 /dev/urandom | base64 > "$work/.data/api-secret"
http_port=$(free_port)
base="http://127.0.0.1:$http_port"
(cd "$work" && DATABASE_URL="$proxied" ALERTROUTER_LISTEN="127.0.0.1:$http_port" ALERTROUTER_LOG_FORMAT=json \
  exec "$bin" serve --config alertrouter.yaml) > "$work/log" 2>&1 &
pid=$!
trap 'kill $pid $proxy 2>/dev/null || true; wait $pid $proxy 2>/dev/null || true; scripts/pg.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
for _ in $(seq 200); do curl -fs "$base/readyz" >/dev/null && break; sleep 0.1; done
curl -fs "$base/readyz" >/dev/null || { cat "$work/log" >&2; exit 1; }
for f in tests/fixtures/*.json; do
  curl -fs -o /dev/null -H "Authorization: Bearer capture-token" -H 'content-type: application/json' \
    --data-binary "@$f" "$base/hooks/alertmanager"
done
# Escalation and delivery run on their own: wait (bounded) until something was sent.
for _ in $(seq 100); do
  [ "$(psql -Atq "$url" -c "select count(*) from outbox where status = 'sent'")" -gt 0 ] && break
  sleep 0.1
done
token=$(cd "$work" && DATABASE_URL="$url" "$bin" token issue --config alertrouter.yaml --sub capture --role admin)
api() {
  local answer
  answer=$(curl -s -w ' %{http_code}' -X "$1" -H "Authorization: Bearer $token" \
    -H 'content-type: application/json' ${3:+--data "$3"} "$base$2")
  case "$answer" in *' 2'??) ;; *) echo "capture: $1 $2: $answer" >&2 ;; esac
}
api GET /api/v1/incidents
api GET "/api/v1/incidents?status=open"
api GET /api/v1/incidents/INC-1
api POST /api/v1/incidents/INC-3/actions '{"action":"ack"}'
api POST /api/v1/incidents/INC-2/actions '{"action":"note","text":"looking"}'
api POST /api/v1/incidents/INC-2/actions '{"action":"resolve"}'
api POST /api/v1/maintenance '{"name":"m","matchers":"{service=\"x\"}","for":"1h"}'
api GET /api/v1/maintenance
api POST /api/v1/schedule-overrides "{\"schedule\":\"sre-primary\",\"user\":\"carol\",\"end\":\"$(date -u -d '+1 hour' +%FT%TZ)\"}"
api GET /api/v1/oncall
api GET /api/v1/stats
api GET /api/v1/audit
api GET /api/v1/dead-letters
curl -fs -o /dev/null "$base/metrics"
# The rows the service reads and writes, not the migrations' DDL, LISTEN or session settings.
kill $pid; wait $pid 2>/dev/null || true
psql -AtqX -F $'\t' "$url" -c "select oid, format_type(oid, null) from pg_type" > "$work/types"
python3 - "$work/statements.jsonl" "$work/types" "$("$bin" --version)" > "$output" <<'PY'
import json, re, sys
statements, types, version = sys.argv[1], sys.argv[2], sys.argv[3]
names = dict(line.rstrip("\n").split("\t", 1) for line in open(types))
names["0"] = "unknown"
kept = set()
for line in open(statements):
    s = json.loads(line)
    q = s["query"].strip()
    if not re.match(r"(?is)^(select|insert|update|delete|with|values)\b", q):
        continue
    if re.search(r"(?i)_sqlx_migrations|pg_advisory|pg_catalog|current_database\(\)", q):
        continue
    kept.add((q, ", ".join(names[str(t)] for t in s["types"])))
print(f"-- The SQL {version} ran, captured by scripts/capture-release-sql.sh: each statement")
print("-- after the parameter types it was prepared with, ending at a line ';;'.")
print("-- tests/it/upgrade.rs prepares each on the newest schema.")
for q, t in sorted(kept):
    print(f"-- params: {t}\n{q}\n;;")
PY
echo "captured $(grep -c '^;;$' "$output") statements into $output" >&2
