#!/usr/bin/env bash
# Tessera's benchmark suite, one command:
#
#   bench/run.sh            release build, every row, the limits, start-up, the reference peer
#   bench/run.sh --scale    the same, then 1 M users, 100 k clients, 5 M refresh tokens and
#                           rows 2-4 again
#   bench/run.sh --quick    every row for ~1 s against the debug build, no reference, no scale
#                           (CI runs this so the instrument cannot rot)
#   options: --no-reference, --postgres (the server on a throwaway PostgreSQL cluster through
#            scripts/with-postgres.sh instead of SQLite)
#
# It starts `tessera serve` on 127.0.0.1 with a fresh data folder, seeds it with the CLI, drives
# load with wrk (Debian's package, installed when missing; Lua scripts in bench/lua) and the
# browser-login driver of the tessera-bench crate, measures the limits of the machine in the
# same run (bench/src/limits.rs, and `openssl speed` as a cross-check), and prints the table.
# A full run writes it to bench/results/latest.md as well (--postgres: latest-postgres.md).
# Every process it starts is stopped on exit, success or failure.
#
# Environment: BENCH_SECONDS (per row, default 8; --quick: 1), BENCH_WRK_THREADS (2),
# BENCH_CONNECTIONS (64), BENCH_LOGIN_CONCURRENCY (8), BENCH_REFRESH_TOKENS (20000),
# ACCEPTANCE_DIR (where ../shared/acceptance is), BENCH_KEEP=1 (keep the temporary folder).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=0
SCALE=0
REFERENCE=1
POSTGRES=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    --scale) SCALE=1 ;;
    --no-reference) REFERENCE=0 ;;
    --postgres) POSTGRES=1 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "run.sh: unknown option $arg (see --help)" >&2
      exit 2
      ;;
  esac
done
if [ "$QUICK" = 1 ]; then
  REFERENCE=0
  SCALE=0
fi

# PostgreSQL: rerun this script inside a throwaway cluster (POSTGRES_URL is set there).
if [ "$POSTGRES" = 1 ] && [ -z "${POSTGRES_URL:-}" ]; then
  exec bash "$ROOT/scripts/with-postgres.sh" bash "${BASH_SOURCE[0]}" "$@"
fi

DUR="${BENCH_SECONDS:-$([ "$QUICK" = 1 ] && echo 1 || echo 8)}"
WRK_THREADS="${BENCH_WRK_THREADS:-2}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
LOGIN_CONCURRENCY="${BENCH_LOGIN_CONCURRENCY:-8}"
REFRESH_COUNT="${BENCH_REFRESH_TOKENS:-$([ "$QUICK" = 1 ] && echo 2000 || echo 20000)}"
REDIRECT_URI="http://127.0.0.1:3299/callback"
LUA="$ROOT/bench/lua"
export BENCH_LUA_DIR="$LUA"

say() { printf 'bench: %s\n' "$*"; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-bench.XXXXXX")"
RESULTS="$WORK/results.jsonl"
: >"$RESULTS"
SERVER_PID=""
REF_PID=""
BG_PIDS=()

stop_pid() { # pid: SIGTERM, then SIGKILL after 5 s
  local pid="$1"
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local pid
  for pid in "${BG_PIDS[@]}"; do stop_pid "$pid"; done
  stop_pid "$SERVER_PID"
  stop_pid "$REF_PID"
  if [ "${BENCH_KEEP:-}" = 1 ]; then
    echo "bench: kept $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "bench: FAILED: $*" >&2
  if [ -s "$WORK/server.log" ]; then
    echo "---- server log (last 40 lines) ----" >&2
    tail -n 40 "$WORK/server.log" >&2
  fi
  exit 1
}

record() { printf '%s\n' "$1" >>"$RESULTS"; }

PHASE_NAME=""
PHASE_START=0
phase() { # name: ends the running phase (recording its time) and starts the next
  local now
  now="$(date +%s.%N)"
  if [ -n "$PHASE_NAME" ]; then
    local took
    took="$(awk -v a="$PHASE_START" -v b="$now" 'BEGIN { printf "%.1f", b - a }')"
    say "phase $PHASE_NAME took ${took} s"
    record "{\"kind\":\"phase\",\"name\":\"$PHASE_NAME\",\"seconds\":$took}"
  fi
  PHASE_NAME="$1"
  PHASE_START="$now"
  [ -z "$1" ] || printf '\n==> bench: %s\n' "$1"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

random_secret() {
  python3 -c 'import secrets; print(secrets.token_urlsafe(32))'
}

# --- tools --------------------------------------------------------------------------------
install_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  say "wrk is missing: installing Debian's package"
  [ "$(id -u)" = 0 ] || fail "wrk is not installed and this is not root: apt-get install wrk"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
  command -v wrk >/dev/null 2>&1 || fail "wrk is still missing after apt-get install wrk"
}

build() {
  local profile_flag=() dir=debug
  if [ "$QUICK" = 0 ]; then
    profile_flag=(--release)
    dir=release
  fi
  say "cargo build ${profile_flag[*]} -p tessera -p tessera-bench"
  cargo build "${profile_flag[@]}" -p tessera -p tessera-bench
  local target_dir
  target_dir="$(cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  TESSERA="$target_dir/$dir/tessera"
  BENCH="$target_dir/$dir/tessera-bench"
  [ -x "$TESSERA" ] && [ -x "$BENCH" ] || fail "the build left no binaries in $target_dir/$dir"
}

machine() {
  local cpu mem commit
  cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  mem="$(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
  commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  # The results files are the benchmark's own output: a change there is not a change of what
  # is measured.
  git diff --quiet HEAD -- . ':(exclude)bench/results' 2>/dev/null || commit="$commit+changes"
  local db="SQLite (WAL)"
  [ -z "${POSTGRES_URL:-}" ] || db="PostgreSQL $(basename "$(dirname "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)")")"
  local build="release"
  [ "$QUICK" = 0 ] || build="debug (--quick)"
  local text="$(nproc) cores ($cpu), $mem, Linux $(uname -r), $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit, $build build, $db; server and load generator share the machine (wrk -t$WRK_THREADS -c$CONNECTIONS, ${DUR} s a row, login driver $LOGIN_CONCURRENCY flows at once)"
  record "{\"kind\":\"machine\",\"text\":\"$text\"}"
  say "$text"
}

# --- measuring ----------------------------------------------------------------------------
sample_rss() { # pid file: keeps the largest VmRSS seen in file
  local pid="$1" file="$2" max=0 v
  while kill -0 "$pid" 2>/dev/null; do
    v="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)"
    if [ -n "$v" ] && [ "$v" -gt "$max" ]; then
      max="$v"
      echo "$max" >"$file.new"
      mv -f "$file.new" "$file"
    fi
    sleep 0.2
  done
}

PHASE_TAG=base
# measure TARGET PID ROW LIMIT NOTE COMMAND...: runs COMMAND (which prints one JSON load line)
# while sampling PID's memory, and records the row.
measure() {
  local target="$1" pid="$2" row="$3" limit="$4" note="$5"
  shift 5
  local rss_file="$WORK/rss" out sampler hwm rss ticks0 ticks1 db0 db1 wall0 wall1 load_cpu
  echo 0 >"$rss_file"
  sample_rss "$pid" "$rss_file" &
  sampler=$!
  ticks0="$(cpu_ticks "$pid")"
  db0="$(db_cpu_ticks)"
  wall0="$(date +%s.%N)"
  # bash's `time` gives the CPU of the load generator (user + system, its threads included).
  out="$( { TIMEFORMAT='%3U %3S'; time "$@" 2>"$WORK/measure.err"; } 2>"$WORK/load-cpu" |
    grep '^{' | tail -n 1)" || true
  wall1="$(date +%s.%N)"
  ticks1="$(cpu_ticks "$pid")"
  db1="$(db_cpu_ticks)"
  stop_pid "$sampler"
  [ -n "$out" ] || fail "$target $row: no measurement ($(tail -c 400 "$WORK/measure.err"))"
  rss="$(cat "$rss_file" 2>/dev/null || true)"
  rss="${rss:-0}"
  hwm="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)"
  load_cpu="$(awk 'NF == 2 { printf "%.3f", $1 + $2; found = 1 } END { if (!found) print 0 }' "$WORK/load-cpu")"
  local cpu
  cpu="$(awk -v a="$ticks0" -v b="$ticks1" -v hz="$CLK_TCK" -v w0="$wall0" -v w1="$wall1" -v g="$load_cpu" \
    -v d0="$db0" -v d1="$db1" \
    'BEGIN { printf "\"wall_s\":%.3f,\"server_cpu_s\":%.3f,\"load_cpu_s\":%s,\"db_cpu_s\":%.3f", w1 - w0, (b - a) / hz, g, (d1 - d0) / hz }')"
  record "{\"kind\":\"row\",\"phase\":\"$PHASE_TAG\",\"target\":\"$target\",\"row\":\"$row\",\"limit\":\"$limit\",\"note\":\"$note\",\"load\":$out,\"rss_kib\":$rss,\"hwm_kib\":${hwm:-0},$cpu}"
  say "$target | $row | $out | RSS ${rss} KiB | $cpu"
}

CLK_TCK="$(getconf CLK_TCK 2>/dev/null || echo 100)"
cpu_ticks() { # pid: user + system CPU so far, in clock ticks (its threads included)
  awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# The PostgreSQL cluster's CPU so far, in clock ticks (0 on SQLite): the postmaster's, its live
# children's (the connections' backends, the writers), and what its ended children used.
db_cpu_ticks() {
  local pm
  pm="$(head -n 1 "${POSTGRES_DATA:-/nonexistent}/postmaster.pid" 2>/dev/null || true)"
  if [ -z "$pm" ] || [ -z "${POSTGRES_URL:-}" ]; then
    echo 0
    return
  fi
  # A backend may end between pgrep and the read of its stat (its CPU then moves to the
  # postmaster's reaped children): that read fails, and must not end the run (pipefail).
  {
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat" 2>/dev/null || true
    for child in $(pgrep -P "$pm" 2>/dev/null || true); do
      awk '{ print $14 + $15 }' "/proc/$child/stat" 2>/dev/null || true
    done
  } | awk '{ t += $1 } END { print t + 0 }'
}

wrk_run() { # script url [seconds]
  wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${3:-$DUR}s" --timeout 10s -s "$LUA/$1" "$2"
}

# --- Tessera ------------------------------------------------------------------------------
server_env() {
  export TESSERA_ISSUER="http://127.0.0.1:$PORT"
  export TESSERA_BIND="127.0.0.1:$PORT"
  export TESSERA_DATABASE_URL="${POSTGRES_URL:-$WORK/server/data/tessera.db}"
  export TESSERA_KEYS_DIR="$WORK/server/keys"
  export TESSERA_ACCESS_TOKEN_TTL=1h
  TESSERA_ADMIN_PASSWORD="${TESSERA_ADMIN_PASSWORD:-$(random_secret)}"
  export TESSERA_ADMIN_PASSWORD
  export NO_COLOR=1
}

start_tessera() {
  server_env
  mkdir -p "$WORK/server/data"
  (cd "$WORK/server" && exec "$TESSERA" serve) >>"$WORK/server.log" 2>&1 </dev/null &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    curl -fsS -m 2 -o /dev/null "$TESSERA_ISSUER/healthz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "tessera serve exited before it answered"
    sleep 0.1
  done
  fail "tessera serve did not answer /healthz within 60 s"
}

cli() { (cd "$WORK/server" && "$TESSERA" "$@" </dev/null); }

json_field() { # field: reads one JSON object on stdin
  python3 -c "import json, sys; print(json.load(sys.stdin)['$1'])"
}

seed_tessera() {
  USER_PASSWORD="$(random_secret)"
  printf '%s\n' "$USER_PASSWORD" |
    (cd "$WORK/server" && "$TESSERA" user create --username benchuser --email bench@example.test \
      --name "Bench User" --password-stdin --json) >/dev/null || fail "tessera user create failed"
  CC_SECRET="$(cli client create --client-id bench-cc --name "Bench service" \
    --grant-type client_credentials --json | json_field client_secret)" ||
    fail "tessera client create bench-cc failed"
  WEB_SECRET="$(cli client create --client-id bench-web --name "Bench web app" \
    --redirect-uri "$REDIRECT_URI" --grant-type authorization_code refresh_token \
    --json | json_field client_secret)" || fail "tessera client create bench-web failed"
  ES256=0
  if cli client create --help 2>/dev/null | grep -q -- '--id-token-signed-response-alg'; then
    ES_SECRET="$(cli client create --client-id bench-cc-es256 --name "Bench service (ES256)" \
      --grant-type client_credentials --id-token-signed-response-alg ES256 --json |
      json_field client_secret)" || fail "tessera client create bench-cc-es256 failed"
    WEB_ES_SECRET="$(cli client create --client-id bench-web-es256 --name "Bench web app (ES256)" \
      --redirect-uri "$REDIRECT_URI" --grant-type authorization_code refresh_token \
      --id-token-signed-response-alg ES256 --json | json_field client_secret)" ||
      fail "tessera client create bench-web-es256 failed"
    ES256=1
  else
    say "this build has no --id-token-signed-response-alg: the ES256 row is left out"
  fi
}

login_args() {
  LOGIN_ARGS=(--issuer "$TESSERA_ISSUER" --client-id bench-web --redirect-uri "$REDIRECT_URI"
    --username benchuser --scope "openid profile email offline_access")
}

# The access token of one real login, for userinfo and introspection.
user_tokens() {
  login_args
  BENCH_CLIENT_SECRET="$WEB_SECRET" BENCH_PASSWORD="$USER_PASSWORD" \
    "$BENCH" login "${LOGIN_ARGS[@]}" --once >"$WORK/tokens.json" ||
    fail "one browser login through the driver failed"
  ACCESS_TOKEN="$(json_field access_token <"$WORK/tokens.json")"
}

prepare_refresh() {
  local client
  for client in bench-web $([ "$ES256" = 1 ] && echo bench-web-es256); do
    "$BENCH" refresh-tokens --database-url "$TESSERA_DATABASE_URL" --client-id "$client" \
      --username benchuser --count "$REFRESH_COUNT" --out "$WORK/refresh-$client.txt" ||
      fail "preparing refresh tokens for $client failed"
  done
}

basic() { printf '%s:%s' "$1" "$2" | base64 -w0; }

token_rows() { # rows 2-4
  local base="$TESSERA_ISSUER"
  BENCH_BASIC="$(basic bench-cc "$CC_SECRET")" BENCH_BODY="grant_type=client_credentials" \
    measure tessera "$SERVER_PID" "POST /token client_credentials" rs256 "" \
    wrk_run post.lua "$base/token"
  if [ "$ES256" = 1 ]; then
    BENCH_BASIC="$(basic bench-cc-es256 "$ES_SECRET")" BENCH_BODY="grant_type=client_credentials" \
      measure tessera "$SERVER_PID" "POST /token client_credentials, ES256 client" es256 "" \
      wrk_run post.lua "$base/token"
  fi
  BENCH_BASIC="$(basic bench-web "$WEB_SECRET")" BENCH_BODY="token=$ACCESS_TOKEN" \
    measure tessera "$SERVER_PID" "POST /introspect (JWT access token)" "" "" \
    wrk_run post.lua "$base/introspect"
  BENCH_BEARER="$ACCESS_TOKEN" \
    measure tessera "$SERVER_PID" "GET /userinfo (JWT access token)" "" "" \
    wrk_run get.lua "$base/userinfo"
  BENCH_BASIC="$(basic bench-web "$WEB_SECRET")" BENCH_TOKENS="$WORK/refresh-bench-web.txt" \
    BENCH_THREADS="$WRK_THREADS" \
    measure tessera "$SERVER_PID" "POST /token refresh_token (rotation)" half-rs256 "" \
    wrk_run refresh.lua "$base/token"
  if [ "$ES256" = 1 ]; then
    BENCH_BASIC="$(basic bench-web-es256 "$WEB_ES_SECRET")" \
      BENCH_TOKENS="$WORK/refresh-bench-web-es256.txt" BENCH_THREADS="$WRK_THREADS" \
      measure tessera "$SERVER_PID" "POST /token refresh_token (rotation), ES256 client" \
      half-es256 "" wrk_run refresh.lua "$base/token"
  fi
}

login_storm() { # seconds
  login_args
  BENCH_CLIENT_SECRET="$WEB_SECRET" BENCH_PASSWORD="$USER_PASSWORD" \
    "$BENCH" login "${LOGIN_ARGS[@]}" --concurrency "$LOGIN_CONCURRENCY" --seconds "$1"
}

tessera_rows() {
  local base="$TESSERA_ISSUER"
  measure tessera "$SERVER_PID" "GET /.well-known/openid-configuration" "" "" \
    wrk_run get.lua "$base/.well-known/openid-configuration"
  measure tessera "$SERVER_PID" "GET /jwks" "" "" wrk_run get.lua "$base/jwks"
  token_rows
  measure tessera "$SERVER_PID" "browser login flows (authorize, login, code, token)" argon2 "" \
    login_storm "$DUR"
  # Row 2 while the login storm runs: argon2 must not starve the token endpoint.
  login_storm "$((DUR + 2))" >"$WORK/storm.json" 2>"$WORK/storm.err" &
  local storm=$!
  BG_PIDS+=("$storm")
  sleep 1
  BENCH_BASIC="$(basic bench-cc "$CC_SECRET")" BENCH_BODY="grant_type=client_credentials" \
    measure tessera "$SERVER_PID" "POST /token client_credentials during the login storm" rs256 "" \
    wrk_run post.lua "$base/token"
  wait "$storm" || fail "the login storm failed: $(tail -c 400 "$WORK/storm.err")"
  say "login storm beside it: $(cat "$WORK/storm.json")"
  record "{\"kind\":\"storm\",\"load\":$(grep '^{' "$WORK/storm.json" | tail -n 1)}"
}

# --- limits -------------------------------------------------------------------------------
limits() {
  local args=(--seconds 1 --rounds 3)
  [ "$QUICK" = 0 ] || args=(--seconds 0.5 --rounds 1)
  record "$("$BENCH" limits "${args[@]}")" || fail "tessera-bench limits failed"
  say "limits: $(tail -n 1 "$RESULTS")"
  if [ "$QUICK" = 0 ] && command -v openssl >/dev/null 2>&1; then
    local line
    line="$(openssl speed -multi "$(nproc)" -seconds 2 rsa2048 2>/dev/null | grep -E '^rsa +2048 bits' | tail -n 1 || true)"
    if [ -n "$line" ]; then
      # "rsa 2048 bits 0.000123s 0.000004s 8130.1 250000.0": the last two are sign/s, verify/s.
      record "$(echo "$line" | awk -v m="$(nproc)" '{ printf "{\"kind\":\"openssl\",\"multi\":%s,\"sign_per_s\":%s,\"verify_per_s\":%s}", m, $(NF-1), $NF }')"
      say "openssl: $line"
    fi
  fi
}

# --- the reference: panva's oidc-provider -------------------------------------------------
reference() {
  local src="${ACCEPTANCE_DIR:-$ROOT/../shared/acceptance}/reference"
  if [ ! -f "$src/package.json" ]; then
    say "no reference at $src (set ACCEPTANCE_DIR): the reference column stays empty"
    return 0
  fi
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
    say "node or npm is missing: the reference column stays empty"
    return 0
  }
  local dir="$WORK/reference"
  mkdir -p "$dir"
  cp "$src/package.json" "$src/package-lock.json" "$dir/"
  cp "$ROOT/bench/reference-server.mjs" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci of the reference failed"
  local port secret
  port="$(free_port)"
  secret="$(random_secret)"
  REF_PORT="$port" REF_CLIENT_ID=bench-ref REF_CLIENT_SECRET="$secret" \
    REF_ACCESS_OUT="$WORK/ref-access.txt" REF_REFRESH_OUT="$WORK/ref-refresh.txt" \
    REF_REFRESH_COUNT=100 node "$dir/reference-server.mjs" >"$WORK/reference.log" 2>&1 </dev/null &
  REF_PID=$!
  # Node starts in about a second; on a busy machine it has once taken more than 30 s. The
  # wait is a deadline, not a count of tries: a try that hangs takes up to 2 s.
  local ref="http://127.0.0.1:$port" up="" deadline=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if curl -fsS -m 2 -o /dev/null "$ref/.well-known/openid-configuration" 2>/dev/null; then
      up=1
      break
    fi
    kill -0 "$REF_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$up" ]; then
    # The rows already measured are kept: the table is written with the reference left out.
    say "the reference did not answer within 120 s ($(tail -c 400 "$WORK/reference.log" | tr '\n' ' ')): its column stays empty"
    stop_pid "$REF_PID"
    REF_PID=""
    return 0
  fi
  sleep 1
  local version idle
  version="$(node -p "require('$dir/node_modules/oidc-provider/package.json').version")"
  idle="$(awk '/^VmRSS:/ { print $2 }' "/proc/$REF_PID/status")"
  record "{\"kind\":\"reference\",\"name\":\"oidc-provider $version\",\"node\":\"$(node --version)\",\"idle_rss_kib\":$idle}"
  local access auth
  access="$(cat "$WORK/ref-access.txt")"
  auth="$(basic bench-ref "$secret")"
  measure reference "$REF_PID" "GET /.well-known/openid-configuration" "" "" \
    wrk_run get.lua "$ref/.well-known/openid-configuration"
  measure reference "$REF_PID" "GET /jwks" "" "" wrk_run get.lua "$ref/jwks"
  BENCH_BASIC="$auth" BENCH_BODY="grant_type=client_credentials" \
    measure reference "$REF_PID" "POST /token client_credentials" rs256 "" \
    wrk_run post.lua "$ref/token"
  BENCH_BASIC="$auth" BENCH_BODY="token=$access" \
    measure reference "$REF_PID" "POST /introspect (JWT access token)" "" "opaque token" \
    wrk_run post.lua "$ref/token/introspection"
  BENCH_BEARER="$access" measure reference "$REF_PID" "GET /userinfo (JWT access token)" "" \
    "opaque token" wrk_run get.lua "$ref/me"
  BENCH_BASIC="$auth" BENCH_TOKENS="$WORK/ref-refresh.txt" BENCH_THREADS="$WRK_THREADS" \
    measure reference "$REF_PID" "POST /token refresh_token (rotation)" half-rs256 "" \
    wrk_run refresh.lua "$ref/token"
  stop_pid "$REF_PID"
  REF_PID=""
}

# --- scale --------------------------------------------------------------------------------
scale() {
  stop_pid "$SERVER_PID"
  SERVER_PID=""
  server_env
  record "$("$BENCH" seed --database-url "$TESSERA_DATABASE_URL" \
    --users "${BENCH_SCALE_USERS:-1000000}" --clients "${BENCH_SCALE_CLIENTS:-100000}" \
    --refresh-tokens "${BENCH_SCALE_REFRESH_TOKENS:-5000000}")" || fail "seeding failed"
  say "seeded: $(tail -n 1 "$RESULTS")"
  # The seeder leaves gigabytes of dirty pages: write them out first, so that the rows measure
  # the server rather than the kernel's writeback of the seed.
  sync
  start_tessera
  user_tokens
  prepare_refresh
  PHASE_TAG=scale
  token_rows
}

# --- main ---------------------------------------------------------------------------------
phase build
install_wrk
build
machine

phase limits
limits

phase tessera
PORT="$(free_port)"
start_tessera
seed_tessera
user_tokens
prepare_refresh
tessera_rows

phase startup
stop_pid "$SERVER_PID"
SERVER_PID=""
server_env
record "$("$BENCH" startup --runs "$([ "$QUICK" = 1 ] && echo 2 || echo 5)" \
  --url "$TESSERA_ISSUER/healthz" -- "$TESSERA" serve)" || fail "measuring start-up failed"
say "start-up: $(tail -n 1 "$RESULTS")"

if [ "$REFERENCE" = 1 ]; then
  phase reference
  reference
fi

if [ "$QUICK" = 0 ]; then
  # Once more after the rows: other processes only ever slow the limits down, so the report
  # takes the better of the two measurements.
  phase "limits again"
  limits
fi

if [ "$SCALE" = 1 ]; then
  phase scale
  scale
fi
phase ""

printf '\n'
"$BENCH" report "$RESULTS" | tee "$WORK/report.md"
if [ "$QUICK" = 0 ]; then
  mkdir -p "$ROOT/bench/results"
  out="latest.md"
  [ -z "${POSTGRES_URL:-}" ] || out="latest-postgres.md"
  cp "$WORK/report.md" "$ROOT/bench/results/$out"
  say "wrote bench/results/$out"
fi
