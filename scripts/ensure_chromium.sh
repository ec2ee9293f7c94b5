#!/usr/bin/env bash
# Make sure the browser tests have a Chromium to drive.
#   * Debian/Ubuntu as root with apt-get: install Debian's `chromium` if it is missing.
#   * Otherwise: look for a Chromium on PATH or the one `python -m playwright install chromium` put
#     in Playwright's cache, and say how to get one if there is none.
# Exit status: 0 when a browser is available. When none is: 1 on CI (CI=true: the browser tests
# must run there, never be skipped), 0 elsewhere (the browser tests will skip, with a message).
set -euo pipefail
PY="${PYTHON:-${VENV:-.venv}/bin/python}"
[ -x "$PY" ] || PY=python3

found() { echo "chromium: $1"; exit 0; }

for name in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$name" >/dev/null 2>&1; then found "$(command -v "$name")"; fi
done

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: installing Debian's chromium with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  command -v chromium >/dev/null 2>&1 && found "$(command -v chromium)"
fi

# The browser Playwright downloads itself (a user's machine with internet access).
pw_path="$("$PY" - <<'PYEOF' 2>/dev/null || true
import os
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    path = p.chromium.executable_path
print(path if path and os.path.isfile(path) else "")
PYEOF
)"
[ -n "$pw_path" ] && found "$pw_path"

msg="no Chromium for the browser tests: as root on Debian run 'apt-get install chromium', or run '$PY -m playwright install chromium'"
case "${CI:-}" in
  1|true|TRUE|yes) echo "ERROR: $msg (CI=true: this is a failure)" >&2; exit 1 ;;
  *) echo "WARNING: $msg; the browser tests will be skipped" >&2; exit 0 ;;
esac
