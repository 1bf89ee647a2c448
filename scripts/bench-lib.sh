# Shared by the bench scripts (sourced): a throwaway Postgres, the release build, and starting and
# stopping alertrouter. Set `dir` (Postgres data folder), `pg_port` and `work` before sourcing.

url=$(scripts/pg.sh fresh "$dir" "$pg_port" alertrouter)
# BENCH_PGSS=1: Postgres' time per statement (pg_stat_statements), printed to stderr at the end,
# to find what limits a run.
if [ -n "${BENCH_PGSS:-}" ]; then
  psql -q "$url" -c "alter system set shared_preload_libraries = 'pg_stat_statements'"
  scripts/pg.sh stop "$dir" >/dev/null
  url=$(scripts/pg.sh start "$dir" "$pg_port" alertrouter)
  psql -q "$url" -c "create extension pg_stat_statements"
fi
# BENCH_EXPLAIN=MS: the plans (with timings) of statements slower than MS, in Postgres' log.
if [ -n "${BENCH_EXPLAIN:-}" ]; then
  psql -q "$url" -c "load 'auto_explain'" -c "alter system set session_preload_libraries = 'auto_explain'" \
    -c "alter system set auto_explain.log_min_duration = '${BENCH_EXPLAIN}ms'" \
    -c "alter system set auto_explain.log_analyze = on" -c "select pg_reload_conf()" >/dev/null
fi
server_pid=""
bench_cleanup() {
  if [ -n "${BENCH_PGSS:-}" ]; then
    psql "$url" -c "select calls, round(total_exec_time) as exec_ms,
        round((total_exec_time / calls * 1000)::numeric) as us_per_call, rows,
        left(regexp_replace(query, '\\s+', ' ', 'g'), 100) as statement
      from pg_stat_statements order by total_exec_time desc limit 15" >&2 || true
    # Updates that rewrote every index entry (not HOT) cost most of a write.
    psql "$url" -c "select relname, n_tup_ins as inserted, n_tup_upd as updated,
        n_tup_hot_upd as hot_updated from pg_stat_user_tables
      where n_tup_upd > 0 order by n_tup_upd desc limit 5" >&2 || true
  fi
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  scripts/pg.sh stop "$dir" >/dev/null 2>&1 || true
}
trap bench_cleanup EXIT

# bench_build BIN...: the release binaries, in target/release ($bin), or those in $BENCH_BIN
# when it is set (scripts/bench-compare.sh runs the previous code's build so).
bench_build() {
  if [ -n "${BENCH_BIN:-}" ]; then bin=$BENCH_BIN; return 0; fi
  echo "building release binaries..." >&2
  cargo build --release --quiet "${@/#/--bin=}"
  bin=${CARGO_TARGET_DIR:-target}/release
}

# bench_serve PORT ARGS...: starts `alertrouter serve ARGS` and waits until PORT answers /readyz.
bench_serve() {
  local port=$1
  shift
  "$bin/alertrouter" serve "$@" >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "alertrouter did not become ready; log:" >&2; tail "$work/server.log" >&2; exit 1
}

# bench_stop: stops the server started last.
bench_stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""; }
