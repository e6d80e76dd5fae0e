#!/usr/bin/env bash
# Makes sure the PostgreSQL the storage tests use answers on 127.0.0.1:5432,
# starting the local cluster if it is down. Fails loudly; never skips.
set -euo pipefail

host=127.0.0.1
port=5432

answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -h "$host" -p "$port" -q
  else
    (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
  fi
}

if answers; then
  exit 0
fi

echo "PostgreSQL is not answering on $host:$port; starting it" >&2
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /etc/postgresql ]; then
  echo "error: PostgreSQL is down and no local cluster (pg_ctlcluster, /etc/postgresql) exists to start." >&2
  echo "       The storage tests need PostgreSQL on $host:$port (trust auth, database 'test')." >&2
  exit 1
fi
pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start

for _ in $(seq 1 30); do
  if answers; then
    echo "PostgreSQL is up" >&2
    exit 0
  fi
  sleep 1
done
echo "error: PostgreSQL did not come up on $host:$port within 30 s" >&2
exit 1
