#!/usr/bin/env bash
# The suite uses a real PostgreSQL and Redis on 127.0.0.1. Start them when they are down; otherwise fail
# with a clear message (the suite never skips what it cannot reach).
set -uo pipefail
PGHOST=${ASSAY_TEST_PG_HOST:-127.0.0.1}; PGPORT=${ASSAY_TEST_PG_PORT:-5432}
REDIS_PORT=${ASSAY_TEST_REDIS_PORT:-6379}

pg_up() { pg_isready -q -h "$PGHOST" -p "$PGPORT" -U postgres; }
redis_up() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

wait_for() { for _ in $(seq 1 30); do "$1" && return 0; sleep 1; done; return 1; }

if ! pg_up; then
  echo "PostgreSQL is not answering on $PGHOST:$PGPORT; starting it" >&2
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start >&2 || true
  fi
  wait_for pg_up || { echo "error: PostgreSQL is down on $PGHOST:$PGPORT and could not be started" >&2; exit 1; }
fi

if ! redis_up; then
  echo "Redis is not answering on 127.0.0.1:$REDIS_PORT; starting it" >&2
  if command -v redis-server >/dev/null; then
    mkdir -p /var/lib/redis /var/log/redis
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log >&2 || true
  fi
  wait_for redis_up || { echo "error: Redis is down on 127.0.0.1:$REDIS_PORT and could not be started" >&2; exit 1; }
fi
