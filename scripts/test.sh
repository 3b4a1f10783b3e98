#!/usr/bin/env bash
# The test command: installs what the tests need (idempotent, quick once done), then runs every
# test of the workspace. CI (.ci/run) calls exactly this.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
conformance=${INKAN_CONFORMANCE_DIR:-$root/../shared/conformance}
home=${INKAN_CONFORMANCE_HOME:-$HOME/.cache/inkan-conformance}

# Debian packages: the corpus producers (LibreOffice, Ghostscript, qpdf), the renderer
# (poppler-utils), openssl for the test PKI and the CA tests, SoftHSM2 for the PKCS#11 key store,
# fonts for LibreOffice's Japanese text, headless Chromium and its WebDriver for the browser tests.
need=()
command -v soffice >/dev/null || need+=(libreoffice-writer-nogui)
command -v gs >/dev/null || need+=(ghostscript)
command -v qpdf >/dev/null || need+=(qpdf)
command -v pdftoppm >/dev/null || need+=(poppler-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v softhsm2-util >/dev/null || need+=(softhsm2)
command -v pg_ctlcluster >/dev/null || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
[[ -f /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ]] || need+=(fonts-ipafont-gothic fonts-ipafont-mincho)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/test.sh: please install: ${need[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# PostgreSQL: the integration suite runs against it as well as SQLite (trust auth on loopback).
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
export INKAN_REQUIRE_POSTGRES=1
# The browser tests fail rather than skip when Chromium or chromedriver is missing.
export INKAN_REQUIRE_BROWSER=1

# The independent validators (pyHanko, pdfsig, qpdf), and reportlab for the corpus.
bash "$conformance/install"
"$home/venv/bin/python" -c 'import reportlab, PIL' 2>/dev/null ||
  "$home/venv/bin/pip" install -q --disable-pip-version-check reportlab Pillow
# aiosmtpd: the real SMTP server the email tests start on loopback.
"$home/venv/bin/python" -c 'import aiosmtpd' 2>/dev/null ||
  "$home/venv/bin/pip" install -q --disable-pip-version-check 'aiosmtpd==1.4.6'
# schemathesis: requests generated from the server's OpenAPI document. A virtualenv of its own
# keeps its dependencies away from pyHanko's.
"$home/schemathesis-venv/bin/python" -c 'import schemathesis, sys; sys.exit(schemathesis.__version__ != "4.32.5")' 2>/dev/null || {
  python3 -m venv "$home/schemathesis-venv"
  "$home/schemathesis-venv/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.5'
}

# axe-core: the accessibility checks the browser tests run on the contract pages (a test tool,
# never served; MPL-2.0). Pinned, installed once into the cache.
axe_version=4.14.1
axe=$home/axe-$axe_version/node_modules/axe-core/axe.min.js
[[ -f $axe ]] || npm install --silent --no-audit --no-fund --prefix "$home/axe-$axe_version" "axe-core@$axe_version" >/dev/null
export INKAN_AXE=$axe

export INKAN_CONFORMANCE_DIR=$conformance
# The SoftHSM2 test fails rather than skips: the token is part of what is tested.
export INKAN_REQUIRE_SOFTHSM=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line over every test binary (the last binaries cargo runs are the doc-tests,
# which have none, so their own closing lines would say 0).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
