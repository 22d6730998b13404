#!/usr/bin/env bash
# bench/proxy's load generator: Debian's wrk (a C client leaves more of the CPUs to the servers measured).
exec bash "$(dirname "$0")/ensure-debian-package.sh" wrk wrk "bench/proxy drives its load with wrk"
