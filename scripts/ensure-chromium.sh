#!/usr/bin/env bash
# The cache plugin's render service (and its tests) drive Debian's Chromium. Installs the
# `chromium` package when it is missing, as root or through sudo; says what to do otherwise.
set -uo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "chromium is missing: install Debian's package (apt-get install chromium); the cache plugin's tests render real pages" >&2
    exit 1
  fi
fi
echo "installing Debian's chromium package (for the cache plugin's render service)..." >&2
export DEBIAN_FRONTEND=noninteractive
{ $sudo apt-get install -y --no-install-recommends chromium || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends chromium; }; } >/dev/null 2>&1 \
  || { echo "could not install chromium with apt-get" >&2; exit 1; }
