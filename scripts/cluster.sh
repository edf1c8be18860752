#!/usr/bin/env bash
# A cluster of hosts on this machine (network namespaces; run as root), one folder of P pages
# read by the sharded job over its OCR hosts through Celery on RabbitMQ, PostgreSQL for the
# instance and the manifest; everything torn down at the end. The last line printed is one JSON
# object: {"hosts": {...}, "pages": P, "done": D, "failed": F, "duplicates": K, ...}.
#   scripts/cluster.sh --hosts N --pages P [--kill-one] [--restart-postgres]
# See docs/cluster.md; `--help` lists every option.
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${PYTHON:-.venv/bin/python}" scripts/cluster.py "$@"
