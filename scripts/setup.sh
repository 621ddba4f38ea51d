#!/usr/bin/env bash
# Installs what OpsFlux needs on a fresh Debian or Ubuntu machine, once: the
# PostgreSQL server binaries (initdb, pg_ctl, postgres, psql) and mold, the linker
# that keeps link memory low on small machines, and npm, which installs the editor's
# scripts. With OPSFLUX_SETUP_TESTS=1 (test.sh), also what only the tests use: Chromium
# (the headless browser the page tests drive) and chromedriver (WebDriver for the
# editor's test), poppler (pdftotext, pdffonts, pdftoppm read rendered PDFs), LibreOffice
# Writer and Calc (they open rendered DOCX files), and the Python packages deltalake,
# aiosmtpd, moto (an S3-compatible server) and schemathesis. Sourced by demo.sh and
# test.sh; sets CARGO_TARGET_DIR.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: the Rust toolchain (cargo) is required; install it with rustup first" >&2
    exit 1
fi

have_postgres() {
    command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}

missing=()
have_postgres || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v mold >/dev/null 2>&1 || missing+=(mold)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${OPSFLUX_SETUP_TESTS:-0}" = 1 ]; then
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
    command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
    command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
    command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-writer-nogui libreoffice-calc-nogui)
fi

if ((${#missing[@]})); then
    sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
            echo "error: missing ${missing[*]} and not root: install them with apt-get" >&2
            exit 1
        fi
    fi
    echo "installing ${missing[*]} (Debian packages)..." >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Rédacteur editor's scripts (Editor.js and its tools), pinned by package-lock.json
# and served from web/editor/node_modules: installed once, then the page works offline.
editor_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/web/editor"
if [ ! -f "$editor_dir/node_modules/@editorjs/editorjs/dist/editorjs.umd.js" ] \
    || [ "$editor_dir/package-lock.json" -nt "$editor_dir/node_modules/.package-lock.json" ]; then
    echo "installing the editor's scripts (npm ci in web/editor)..." >&2
    (cd "$editor_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

# One build directory outside the work tree, reused between runs and clones.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/opsflux/target}"

# The rest is for the tests only: the demo does not wait for it.
if [ "${OPSFLUX_SETUP_TESTS:-0}" != 1 ]; then
    return 0
fi

# The tests read the warehouse with an independent Delta reader: Python's deltalake.
if ! python3 -c "import deltalake" >/dev/null 2>&1; then
    echo "installing the deltalake Python package (PyPI)..." >&2
    python3 -m pip install -q deltalake pyarrow
fi

# The scheduled-report tests receive mail with a real SMTP server on loopback: aiosmtpd.
if ! python3 -c "import aiosmtpd" >/dev/null 2>&1; then
    echo "installing the aiosmtpd Python package (PyPI)..." >&2
    python3 -m pip install -q aiosmtpd
fi

# The storage tests and the CDC benchmark put the warehouse on a real S3-compatible
# server on loopback: moto in server mode (it honours conditional writes).
if ! python3 -c "import moto.server, boto3" >/dev/null 2>&1; then
    echo "installing moto (PyPI), an S3-compatible server for the storage tests..." >&2
    python3 -m pip install -q 'moto[server]'
fi

# The API contract test runs Schemathesis against /api/openapi.json.
if ! command -v schemathesis >/dev/null 2>&1; then
    echo "installing schemathesis (PyPI)..." >&2
    python3 -m pip install -q schemathesis
fi
