#!/usr/bin/env bash
# The metrics test checks /metrics with Prometheus's own linter (`promtool check metrics`). Installs
# Debian's `prometheus` package (which brings promtool) when it is missing, as root or through sudo;
# says what to do otherwise.
set -uo pipefail
command -v promtool >/dev/null 2>&1 && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "promtool is missing: install Debian's package (apt-get install prometheus); the metrics test lints /metrics with it" >&2
    exit 1
  fi
fi
echo "installing Debian's prometheus package (for promtool)..." >&2
export DEBIAN_FRONTEND=noninteractive
{ $sudo apt-get install -y --no-install-recommends prometheus || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends prometheus; }; } >/dev/null 2>&1 \
  || { echo "could not install prometheus (promtool) with apt-get" >&2; exit 1; }
