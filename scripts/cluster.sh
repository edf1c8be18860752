#!/usr/bin/env bash
# A cluster of hosts on this machine (network namespaces; run as root): a head host with the
# webserver and the daemon, OCR hosts with Celery workers on RabbitMQ, PostgreSQL for the
# instance and the manifest. One folder of P pages is submitted through the webserver and read
# by the sharded job over the OCR hosts; everything torn down at the end. The last line printed
# is one JSON object: {"hosts": {...}, "pages": P, "done": D, "failed": F, "duplicates": K,
# "runs": R, "retried": ..., ...}.
#   scripts/cluster.sh --hosts N --pages P [--kill-one] [--interrupt-run] [--cut-one]
#                      [--restart-postgres]
# See docs/cluster.md; `--help` lists every option.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" scripts/cluster.py "$@"
