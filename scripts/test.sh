#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy with warnings as errors, and the whole
# test suite against a real PostgreSQL that the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
