#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (Debian's postgresql 15), run as the `postgres` user.
#   scripts/test-postgres.sh start DIR   initdb in DIR/data, start it on 127.0.0.1 (a free port) and a socket in
#                                        DIR/socket; prints the URL to give the tests as FERRY_TEST_POSTGRES_URL
#   scripts/test-postgres.sh stop DIR    stop it (by the postmaster's PID) and remove DIR
# Must run as root (runuser). The cluster trusts local connections and keeps nothing: fsync is off.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
command=${1:?usage: test-postgres.sh start|stop DIR}
dir=${2:?usage: test-postgres.sh start|stop DIR}

as_postgres() { runuser -u postgres -- "$@"; }

case "$command" in
start)
  [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 is not installed ($PG_BIN/initdb): apt-get install postgresql" >&2; exit 1; }
  mkdir -p "$dir/socket"
  chown -R postgres: "$dir"
  # A free port on the loopback, chosen by the kernel.
  port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
  # The C locale: text sorts and compares by bytes, as in SQLite (the service requires it).
  as_postgres "$PG_BIN/initdb" --pgdata="$dir/data" --username=ferry --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  as_postgres "$PG_BIN/pg_ctl" start --pgdata="$dir/data" --log="$dir/server.log" --wait --silent \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir/socket -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" ||
    { cat "$dir/server.log" >&2; exit 1; }
  echo "postgres://ferry@127.0.0.1:$port/postgres"
  ;;
stop)
  if [ -f "$dir/data/postmaster.pid" ]; then
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    # Fast shutdown: SIGINT to the postmaster, then wait until it is gone. It is not our child: whoever
    # reaps it may be slow, so a zombie counts as gone (kill -0 would still succeed on it).
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
      [ -d "/proc/$pid" ] || break
      grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null && break
      sleep 0.1
    done
  fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: test-postgres.sh start|stop DIR" >&2
  exit 2
  ;;
esac
