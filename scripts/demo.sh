#!/usr/bin/env bash
# Runs the OpsFlux demo on this machine: installs PostgreSQL if needed, builds the
# `opsflux` binary (release) and runs `opsflux demo`, which starts a private
# PostgreSQL under ./data, loads sample data and serves http://127.0.0.1:8080.
# Extra arguments go to `opsflux demo` (see `opsflux demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
exec cargo run --release --locked -p opsflux-api --bin opsflux -- demo "$@"
