#!/usr/bin/env bash
# Prepares this checkout on a Debian machine: Debian packages the Python side
# cannot install itself, a virtual environment in .venv, and Constellate with
# its pinned dependencies. Safe to run again; it only installs what is missing.
# With --services it also starts the local PostgreSQL and Redis the tests use, and adds
# PHP's Redis module (MediaWiki publishes its recent-changes feed on Redis with it).
# Chromium comes from Debian; Playwright drives it and never downloads a browser.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
command -v git >/dev/null || missing+=(git)
# The dashboard's browser tests and the demo's login drive Debian's Chromium headless.
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"

python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"Constellate needs Python 3.11 or newer; python3 is {sys.version.split()[0]}")
PY

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.constellate-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  touch "$stamp"
fi

start_postgres() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  fi
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
  # The tests connect as this role over TCP; it may create and drop databases.
  if ! as_root runuser -u postgres -- psql -qtAc \
      "SELECT 1 FROM pg_roles WHERE rolname = 'constellate'" | grep -q 1; then
    as_root runuser -u postgres -- psql -qc \
      "CREATE ROLE constellate LOGIN CREATEDB PASSWORD 'constellate'"
  fi
}

start_redis() {
  # The scale-out tests wake workers through Redis; it need keep nothing on disk.
  command -v redis-server >/dev/null || apt_install redis-server
  if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    mkdir -p var/redis
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --dir "$PWD/var/redis" --logfile "$PWD/var/redis/redis.log"
  fi
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
  redis-cli -h 127.0.0.1 -p 6379 ping
}

# MediaWiki's Redis feed engine (RedisPubSubFeedEngine) needs PHP's Redis module: the
# tests and the wiki_push benchmark have the sandbox wiki publish its changes on Redis.
install_php_redis() {
  php -m 2>/dev/null | grep -qx redis || apt_install php-redis
}

# --clock: what `scripts/test.sh --clock OFFSET` needs (libfaketime is built from source).
install_clock_mover() {
  command -v cc >/dev/null && command -v make >/dev/null || apt_install gcc make libc6-dev
  .venv/bin/python -c 'import libfaketime' 2>/dev/null || .venv/bin/python -m pip install -q -e '.[clock]'
}

for option in "$@"; do
  case "$option" in
    --services) start_postgres; start_redis; install_php_redis ;;
    --clock) install_clock_mover ;;
    *) echo "setup.sh: unknown option $option" >&2; exit 2 ;;
  esac
done
