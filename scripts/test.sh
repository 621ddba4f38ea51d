#!/usr/bin/env bash
# Runs every check CI runs: formatting, clippy with warnings as errors, and the whole
# test suite against a real PostgreSQL that the tests start themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
# The dashboard tests open pages in headless Chromium; the document tests read PDFs
# with poppler and open DOCX files with LibreOffice; Python packages read the
# warehouse (deltalake), receive mail (aiosmtpd) and probe the API (schemathesis).
export OPSFLUX_SETUP_TESTS=1
source scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Unit and integration tests only: no doc tests (there are none) and no benchmarks
# (they run at full scale with `cargo bench`). The last line sums up
# every test binary, so the run ends on one clear count.
log=$(mktemp)
set +e
cargo test --workspace --lib --bins --tests --locked 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "all tests: %d passed, %d failed\n", passed, failed }' "$log"
rm -f "$log"
exit "$status"
