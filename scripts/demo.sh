#!/usr/bin/env bash
# Runs the OpsFlux demo on this machine: installs PostgreSQL if needed, builds the
# `opsflux` binary and runs `opsflux demo`, which starts a private PostgreSQL under
# ./data, loads sample data and serves http://127.0.0.1:8080.
#
# The binary is built with the dev profile, the one the tests use: on a two-core
# machine it builds in well under half the time of the release profile, and a later
# `scripts/test.sh` reuses it (figures in README.md, "Building"). `--release` builds
# and runs the release binary instead, for speed on large data.
# Other arguments go to `opsflux demo` (see `scripts/demo.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

profile=()
profile_name="dev"
arguments=()
for argument in "$@"; do
    if [ "$argument" = --release ]; then
        profile=(--release)
        profile_name="release"
    else
        arguments+=("$argument")
    fi
done

echo "building opsflux with the $profile_name profile: the first build compiles about 670 crates (cargo shows its progress), later runs reuse them" >&2
exec cargo run "${profile[@]}" --locked -p opsflux-api --bin opsflux -- demo "${arguments[@]}"
