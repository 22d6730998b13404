#!/usr/bin/env bash
# Usage: ensure-debian-package.sh COMMAND PACKAGE WHY
# Installs Debian's PACKAGE when COMMAND is missing, as root or through sudo; says what to do otherwise.
set -uo pipefail
command=$1 package=$2 why=$3
command -v "$command" >/dev/null 2>&1 && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "$command is missing: install Debian's package (apt-get install $package); $why" >&2
    exit 1
  fi
fi
echo "installing Debian's $package package ($why)..." >&2
export DEBIAN_FRONTEND=noninteractive
{ $sudo apt-get install -y --no-install-recommends "$package" || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "$package"; }; } >/dev/null 2>&1 \
  || { echo "could not install $package (for $command) with apt-get" >&2; exit 1; }
