#!/usr/bin/env bash
# The metrics test checks /metrics with Prometheus's own linter (`promtool check metrics`), which Debian's
# `prometheus` package brings.
exec bash "$(dirname "$0")/ensure-debian-package.sh" promtool prometheus "the metrics test lints /metrics with promtool"
