#!/usr/bin/env bash
# CI: make sure a PostgreSQL server answers on 127.0.0.1:$PGPORT (default 5432) with trust auth
# and a database "test", for the tests of the production configuration. A CI machine of this
# project runs one already, and then this does nothing. Otherwise it installs Debian's server
# when missing and starts a cluster of its own ("ocr_assets_ci", trust auth on loopback only).
set -euo pipefail
port=${PGPORT:-5432}
say() { printf 'ci-postgres: %s\n' "$*" >&2; }

answers() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null
  else  # no client tools: something listening on the port is taken for the server
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

if answers; then
  exit 0
fi
if ! command -v pg_createcluster >/dev/null; then
  say "no PostgreSQL server found: installing Debian's postgresql"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v p="$port" '$3 == p && $2 == "ocr_assets_ci"' | grep -q .; then
  say "creating PostgreSQL $version cluster ocr_assets_ci on port $port (trust auth, loopback)"
  pg_createcluster "$version" ocr_assets_ci -p "$port" -- --auth=trust >/dev/null
fi
pg_ctlcluster "$version" ocr_assets_ci start 2>/dev/null || true
for _ in $(seq 60); do answers && break; sleep 0.5; done
if ! answers; then
  say "PostgreSQL did not start on port $port; see pg_lsclusters and /var/log/postgresql/"
  exit 1
fi
psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
  "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 \
  || createdb -h 127.0.0.1 -p "$port" -U postgres test
say "PostgreSQL $version answers on 127.0.0.1:$port"
