#!/usr/bin/env bash
# The browser tests drive Debian's chromium (never a browser downloaded by Playwright).
# Installs it when it is missing: as root (CI, a fresh Debian machine) with apt-get, else
# through sudo when there is one; otherwise says what to run.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
echo "chromium is missing (the console's browser tests need it); installing Debian's package ..." >&2
if [ "$(id -u)" = "0" ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "Cannot install it without root: run  apt-get install -y chromium  as root." >&2
  exit 2
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null 2>&1 || { echo "apt-get did not install chromium." >&2; exit 2; }
echo "chromium installed: $(chromium --version 2>/dev/null || echo '?')" >&2
