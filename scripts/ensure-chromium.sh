#!/usr/bin/env bash
# The cache plugin's render service (and its tests) drive Debian's Chromium.
exec bash "$(dirname "$0")/ensure-debian-package.sh" chromium chromium "the cache plugin's render service and its tests render real pages"
