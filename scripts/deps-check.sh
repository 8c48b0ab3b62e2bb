#!/usr/bin/env bash
# Dependency checks with cargo-deny (deny.toml): licenses, bans and sources. The advisory
# check needs the RustSec advisory database, which cargo-deny and cargo-audit fetch from
# GitHub; no package registry this build machine reaches ships it, so that check (and
# cargo audit, which does nothing else) runs only when a copy is present at
# $RUSTSEC_DB (default ~/.cargo/advisory-db) and is otherwise reported as skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if ! cargo deny --version >/dev/null 2>&1; then
  echo "cargo-deny is missing: installing it from crates.io"
  start=$(date +%s)
  cargo install --locked cargo-deny
  echo "cargo-deny installed in $(( $(date +%s) - start )) s"
fi
cargo deny --version

cargo deny --offline check licenses bans sources

DB="${RUSTSEC_DB:-$HOME/.cargo/advisory-db}"
if compgen -G "$DB/*/advisory-db*" >/dev/null || [ -d "$DB/crates" ]; then
  cargo deny --offline check advisories
else
  echo "SKIPPED: cargo deny check advisories and cargo audit: the RustSec advisory database"
  echo "  is fetched from GitHub, which this machine cannot reach, and no registry it reaches"
  echo "  (crates.io, PyPI, npm, Debian) ships a copy. Put one at $DB to run the check."
fi
