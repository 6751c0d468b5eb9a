#!/usr/bin/env bash
# A PostgreSQL server for tests and local runs.
#
#   pg.sh up         print a database URL on stdout: LOCKSTEP_TEST_POSTGRES_URL when it is set,
#                    else a throwaway cluster under <repo>/var/pg on a free port
#                    (installing Debian's postgresql package first when it is missing)
#   pg.sh available  exit 0 when `up` can provide a server (a URL is given, the server is
#                    installed, or we are root and can install it); starts nothing
#   pg.sh down   stop the throwaway cluster (data kept)
#   pg.sh reset  stop it and delete its data
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
state=${LOCKSTEP_PG_DIR:-$repo/var/pg}
data=$state/data
say() { echo "pg.sh: $*" >&2; }

as_postgres() {
  # PostgreSQL refuses to run as root; run its tools as the postgres user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$dir" ] && command -v pg_ctl >/dev/null; then dir=$(dirname "$(command -v pg_ctl)"); fi
  echo "$dir"
}

install_server() {
  [ -n "$(bindir)" ] && [ -x "$(bindir)/initdb" ] && return 0
  [ "$(id -u)" = 0 ] || { say "PostgreSQL is not installed; run as root or: sudo apt-get install postgresql"; exit 1; }
  say "installing Debian's postgresql package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq postgresql >/dev/null
  # Debian starts its own cluster on 5432; we do not need it.
  pg_ctlcluster --help >/dev/null 2>&1 && { for c in $(ls /etc/postgresql 2>/dev/null); do pg_ctlcluster "$c" main stop 2>/dev/null || true; done; }
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

up() {
  if [ -n "${LOCKSTEP_TEST_POSTGRES_URL:-}" ]; then echo "$LOCKSTEP_TEST_POSTGRES_URL"; return 0; fi
  install_server
  local bin; bin=$(bindir)
  mkdir -p "$state"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$state" postgres
    chown postgres "$state"
    # The postgres user must be able to reach the data directory through its parents.
    local dir=$state; while [ "$dir" != / ]; do dir=$(dirname "$dir"); chmod o+x "$dir" 2>/dev/null || true; done
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_postgres "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-locale >"$state/initdb.log" 2>&1 \
      || { say "initdb failed:"; cat "$state/initdb.log" >&2; exit 1; }
  fi
  local port
  if [ -f "$state/port" ] && as_postgres "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    port=$(cat "$state/port")
  else
    port=$(free_port); echo "$port" >"$state/port"
    as_postgres "$bin/pg_ctl" -D "$data" -l "$state/server.log" -w -t 60 \
      -o "-p $port -k $state -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=256MB" start >/dev/null \
      || { say "postgres did not start:"; tail -n 20 "$state/server.log" >&2; exit 1; }
  fi
  echo "postgresql://postgres@127.0.0.1:$port/postgres"
}

available() {
  [ -n "${LOCKSTEP_TEST_POSTGRES_URL:-}" ] && return 0
  local bin; bin=$(bindir)
  [ -n "$bin" ] && [ -x "$bin/initdb" ] && return 0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null
}

down() {
  local bin; bin=$(bindir)
  [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] || return 0
  as_postgres "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}

case "${1:-}" in
  up) up ;;
  available) available ;;
  down) down ;;
  reset) down; rm -rf "$state" ;;
  *) echo "usage: pg.sh up|available|down|reset" >&2; exit 2 ;;
esac
