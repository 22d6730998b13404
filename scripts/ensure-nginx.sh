#!/usr/bin/env bash
# bench/proxy's C floor: Debian's nginx as a reverse proxy (the bench starts it with a generated config).
exec bash "$(dirname "$0")/ensure-debian-package.sh" nginx nginx "bench/proxy compares gantry's proxy with nginx's"
