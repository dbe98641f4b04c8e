#!/usr/bin/env bash
# Debian's Chromium for the viewer's browser tests (tests/ui/test_ui_browser.py). Playwright
# drives it from /usr/bin/chromium; no browser is downloaded (`playwright install` is never
# run). Idempotent: returns at once when Chromium is already there.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_browser.sh: no apt-get here; install Chromium at /usr/bin/chromium yourself" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq chromium fonts-liberation >/dev/null
/usr/bin/chromium --version
