#!/usr/bin/env bash
# Runs the relying-party examples of the README against a fresh Tessera server: the Node.js
# (jose) and Python (PyJWT) verifiers, and the Rust example orders API (tessera-verify).
# A client credentials token must pass each of them; a tampered token, a token for another
# audience and (for the API) a missing token or scope must be refused. jose also verifies the
# tokens of an ES256 client and of an EdDSA client against the JWKS.
#
#   scripts/rp-examples.sh [path-to-tessera-binary [path-to-orders-api-binary]]
#
# Without arguments both are built with cargo (debug). Prints one PASS/FAIL line per check
# and `N passed, N failed` at the end; exits 1 if any check failed.
#
# Environment:
#   RP_EXAMPLES_KEEP=1  keep the temporary folder (server logs, node_modules, Python packages)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
JOSE_VERSION="6.2.18"
PYJWT_VERSION="2.15.1"
CLIENT_ID="orders-client"

say() { printf 'rp-examples: %s\n' "$*"; }

WORK=""
PIDS=()
PASSED=0
FAILED=0

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$WORK" ]; then
    if [ "${RP_EXAMPLES_KEEP:-}" = "1" ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  say "FAILED: $*"
  for log in "$WORK"/*.log; do
    [ -s "$log" ] && { echo "---- $log ----"; tail -n 40 "$log"; }
  done
  exit 1
}

check() { # name expected-status command...
  local name="$1" expected="$2" status=0 out
  shift 2
  out="$("$@" 2>&1)" || status=$?
  if { [ "$expected" = 0 ] && [ "$status" = 0 ]; } || { [ "$expected" != 0 ] && [ "$status" != 0 ]; }; then
    echo "PASS $name: $out"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL $name (exit $status, expected ${expected/1/non-zero}): $out"
    FAILED=$((FAILED + 1))
  fi
}

check_http() { # name expected-code method url [token]
  local name="$1" expected="$2" method="$3" url="$4" token="${5:-}" code headers
  headers="$WORK/headers"
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  code="$(curl -sS -o "$WORK/body" -D "$headers" -w '%{http_code}' -X "$method" "${auth[@]}" "$url")" ||
    code="curl-error"
  local challenge
  challenge="$(grep -i '^www-authenticate:' "$headers" | tr -d '\r' || true)"
  if [ "$code" = "$expected" ]; then
    echo "PASS $name: HTTP $code ${challenge}"
    PASSED=$((PASSED + 1))
  else
    echo "FAIL $name: HTTP $code, expected $expected: $(cat "$WORK/body")"
    FAILED=$((FAILED + 1))
  fi
}

need() { # command [debian-package]
  command -v "$1" >/dev/null 2>&1 && return 0
  say "$1 is missing: installing Debian package ${2:-$1}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${2:-$1}" >/dev/null
  command -v "$1" >/dev/null 2>&1 || fail "$1 is still missing"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # url pid what
  local deadline=$((SECONDS + 60))
  while [ "$SECONDS" -lt "$deadline" ]; do
    curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null && return 0
    kill -0 "$2" 2>/dev/null || fail "$3 exited before it answered"
    sleep 0.25
  done
  fail "$3 did not answer $1 within 60 s"
}

binaries() {
  if [ "$#" -ge 1 ]; then BIN="$1"; else
    say "building: cargo build --bin tessera"
    (cd "$ROOT" && cargo build -q --bin tessera)
  fi
  if [ "$#" -ge 2 ]; then API_BIN="$2"; else
    say "building: cargo build -p tessera-verify --example orders-api"
    (cd "$ROOT" && cargo build -q -p tessera-verify --example orders-api)
  fi
  local target
  target="$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  BIN="${BIN:-$target/debug/tessera}"
  API_BIN="${API_BIN:-$target/debug/examples/orders-api}"
  [ -x "$BIN" ] || fail "no tessera binary at $BIN"
  [ -x "$API_BIN" ] || fail "no orders-api binary at $API_BIN"
}

install_verifiers() {
  export npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
  say "npm install jose@$JOSE_VERSION into $WORK/node"
  mkdir -p "$WORK/node"
  npm install --silent --prefix "$WORK/node" "jose@$JOSE_VERSION" >/dev/null ||
    fail "npm install jose failed"
  cp "$ROOT/examples/node/verify.mjs" "$WORK/node/"
  say "pip install pyjwt[crypto]==$PYJWT_VERSION into $WORK/python"
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --target "$WORK/python" \
    "pyjwt[crypto]==$PYJWT_VERSION" || fail "pip install pyjwt failed"
  cp "$ROOT/examples/python/verify.py" "$WORK/python/"
}

start_tessera() {
  local port
  port="$(free_port)"
  export TESSERA_ISSUER="http://127.0.0.1:$port" TESSERA_BIND="127.0.0.1:$port"
  export TESSERA_DATABASE_URL="$WORK/server/tessera.db" TESSERA_KEYS_DIR="$WORK/server/keys"
  TESSERA_ADMIN_PASSWORD="$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')"
  export TESSERA_ADMIN_PASSWORD RUST_LOG="${RUST_LOG:-info,actix_server=warn}" NO_COLOR=1
  mkdir -p "$WORK/server"
  say "starting tessera serve on $TESSERA_BIND"
  (cd "$WORK/server" && exec "$BIN" serve) >"$WORK/tessera.log" 2>&1 </dev/null &
  PIDS+=($!)
  wait_for "$TESSERA_ISSUER/healthz" "$!" "tessera serve"
  SECRET="$(create_client "$CLIENT_ID" RS256)"
  ES256_SECRET="$(create_client es256-client ES256)"
  EDDSA_SECRET="$(create_client eddsa-client EdDSA)"
}

create_client() { # client-id signing-alg; prints the secret
  local out
  out="$(cd "$WORK/server" && "$BIN" client create --client-id "$1" --name "Client $1" \
    --grant-type client_credentials --scope orders:read orders:write \
    --id-token-signed-response-alg "$2" --json </dev/null)" ||
    fail "tessera client create $1 failed"
  printf '%s' "$out" | python3 -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])'
}

token() { # scope [client-id secret]
  curl -fsS -u "${2:-$CLIENT_ID}:${3:-$SECRET}" -d grant_type=client_credentials \
    --data-urlencode "scope=$1" "$TESSERA_ISSUER/token" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# The token with a changed payload and the original signature.
tamper() {
  python3 - "$1" <<'PY'
import base64, json, sys
h, p, s = sys.argv[1].split(".")
claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
claims["scope"] = "orders:read orders:write admin"
p = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
print(f"{h}.{p}.{s}")
PY
}

start_api() {
  local port
  port="$(free_port)"
  API="http://127.0.0.1:$port"
  say "starting the example orders API on $API"
  TESSERA_ISSUER="$TESSERA_ISSUER" API_AUDIENCE="$CLIENT_ID" API_BIND="127.0.0.1:$port" \
    "$API_BIN" >"$WORK/orders-api.log" 2>&1 </dev/null &
  PIDS+=($!)
  wait_for "$API/health" "$!" "the orders API"
}

verify_node() { # audience token
  TESSERA_ISSUER="$TESSERA_ISSUER" API_AUDIENCE="$1" ACCESS_TOKEN="$2" node "$WORK/node/verify.mjs"
}

verify_python() { # audience token
  TESSERA_ISSUER="$TESSERA_ISSUER" API_AUDIENCE="$1" ACCESS_TOKEN="$2" \
    PYTHONPATH="$WORK/python" python3 "$WORK/python/verify.py"
}

main() {
  need curl
  need python3
  need node nodejs
  need npm
  binaries "$@"
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/tessera-rp.XXXXXX")"
  install_verifiers
  start_tessera
  start_api
  local read write tampered
  read="$(token orders:read)" || fail "no token from $TESSERA_ISSUER/token"
  write="$(token 'orders:read orders:write')" || fail "no token from $TESSERA_ISSUER/token"
  tampered="$(tamper "$read")"

  check "node: valid token" 0 verify_node "$CLIENT_ID" "$read"
  check "node: tampered token refused" 1 verify_node "$CLIENT_ID" "$tampered"
  check "node: another audience refused" 1 verify_node other-api "$read"
  local es ed
  es="$(token orders:read es256-client "$ES256_SECRET")" || fail "no ES256 token"
  ed="$(token orders:read eddsa-client "$EDDSA_SECRET")" || fail "no EdDSA token"
  check "node: ES256 token" 0 verify_node es256-client "$es"
  check "node: EdDSA token" 0 verify_node eddsa-client "$ed"
  check "node: tampered EdDSA token refused" 1 verify_node eddsa-client "$(tamper "$ed")"
  check "python: valid token" 0 verify_python "$CLIENT_ID" "$read"
  check "python: tampered token refused" 1 verify_python "$CLIENT_ID" "$tampered"
  check "python: another audience refused" 1 verify_python other-api "$read"
  check_http "orders API: no token" 401 GET "$API/orders"
  check_http "orders API: valid token" 200 GET "$API/orders" "$read"
  check_http "orders API: tampered token" 401 GET "$API/orders" "$tampered"
  check_http "orders API: missing scope" 403 POST "$API/orders" "$read"
  check_http "orders API: scope granted" 201 POST "$API/orders" "$write"

  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ] || fail "$FAILED check(s) failed"
}

main "$@"
