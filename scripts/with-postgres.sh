#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster on 127.0.0.1, then stops and deletes it.
#
#   scripts/with-postgres.sh COMMAND [ARGS...]
#
# The cluster lives in a temporary folder (initdb, pg_ctl from Debian's `postgresql` package or
# PG_BIN), owned by the `postgres` account when run as root, with trust authentication on
# loopback only. The command sees POSTGRES_URL (an empty database `tessera`) and the same URL
# as ACCEPTANCE_DATABASE_URL, which scripts/acceptance.sh uses instead of a SQLite file, and
# POSTGRES_DATA, the cluster's data folder.
set -euo pipefail

[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }

if [ -n "${PG_BIN:-}" ]; then
  BIN_DIR="$PG_BIN"
else
  BIN_DIR="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
fi
[ -x "$BIN_DIR/initdb" ] && [ -x "$BIN_DIR/pg_ctl" ] ||
  { echo "with-postgres: initdb and pg_ctl not found (install Debian's postgresql, or set PG_BIN)" >&2; exit 1; }

DIR="$(mktemp -d)"
AS=()
if [ "$(id -u)" = 0 ]; then
  chown postgres:postgres "$DIR"
  AS=(runuser -u postgres --)
fi
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"

stop() {
  (cd / && "${AS[@]}" "$BIN_DIR/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1) || true
  rm -rf "$DIR"
}
trap stop EXIT

(cd / && "${AS[@]}" "$BIN_DIR/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null)
(cd / && "${AS[@]}" "$BIN_DIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
  -o "-p $PORT -k $DIR -c listen_addresses=127.0.0.1" start >/dev/null)
"$BIN_DIR/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -c 'CREATE DATABASE tessera' >/dev/null

export POSTGRES_URL="postgres://postgres@127.0.0.1:$PORT/tessera"
export POSTGRES_DATA="$DIR/data"
export ACCEPTANCE_DATABASE_URL="$POSTGRES_URL"
echo "with-postgres: PostgreSQL on 127.0.0.1:$PORT ($BIN_DIR)"
"$@"
