#!/usr/bin/env bash
# CI: make sure a PostgreSQL server answers on 127.0.0.1:$PGPORT (default 5432) with trust auth
# and a database "test", for the tests of the production configuration. A CI machine of this
# project runs one already; then this only creates "test" if that server lacks it. Otherwise it
# installs Debian's server when missing and starts a cluster of its own ("ocr_assets_ci", trust
# auth on loopback only). apt-get and the cluster commands run as root: directly when this runs
# as root, else through `sudo -n` (as .ci/run does for Chromium), which fails at once, saying
# so, instead of waiting for a password. Safe to re-run. OCR_ASSETS_CI_DATABASE names another
# database than "test" (ocr_assets_tests/e2e/test_ci_postgres.py checks this script with it).
set -euo pipefail
port=${PGPORT:-5432}
database=${OCR_ASSETS_CI_DATABASE:-test}
say() { printf 'ci-postgres: %s\n' "$*" >&2; }
if [[ ! $database =~ ^[A-Za-z0-9_]+$ ]]; then
  say "OCR_ASSETS_CI_DATABASE=$database: use letters, digits and underscores only"
  exit 2
fi

as_root=()
[[ $(id -u) -eq 0 ]] || as_root=(sudo -n)

answers() {
  if command -v pg_isready >/dev/null; then
    pg_isready -q -h 127.0.0.1 -p "$port" 2>/dev/null
  else  # no client tools: something listening on the port is taken for the server
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

apt_install() {
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

has_database() {
  psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atqc \
    "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1
}

ensure_database() {
  if ! command -v psql >/dev/null; then
    say "no psql to look for the database $database: installing Debian's postgresql-client"
    apt_install postgresql-client
  fi
  if ! has_database; then
    say "creating the database $database on 127.0.0.1:$port"
    # Another job may create it at the same moment: that is as good as creating it here.
    createdb -h 127.0.0.1 -p "$port" -U postgres "$database" 2>/dev/null || has_database || {
      say "could not create the database $database on 127.0.0.1:$port (is it trust auth for" \
          "the user postgres?); create it yourself: createdb -U postgres $database"
      exit 1
    }
  fi
}

if answers; then
  ensure_database
  exit 0
fi
if ! command -v pg_createcluster >/dev/null; then
  say "no PostgreSQL server found: installing Debian's postgresql"
  apt_install postgresql
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v p="$port" '$3 == p && $2 == "ocr_assets_ci"' | grep -q .; then
  say "creating PostgreSQL $version cluster ocr_assets_ci on port $port (trust auth, loopback)"
  "${as_root[@]}" pg_createcluster "$version" ocr_assets_ci -p "$port" -- --auth=trust >/dev/null
fi
"${as_root[@]}" pg_ctlcluster "$version" ocr_assets_ci start 2>/dev/null || true
for _ in $(seq 60); do answers && break; sleep 0.5; done
if ! answers; then
  say "PostgreSQL did not start on port $port; see pg_lsclusters and /var/log/postgresql/"
  exit 1
fi
ensure_database
say "PostgreSQL $version answers on 127.0.0.1:$port"
