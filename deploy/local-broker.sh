#!/usr/bin/env bash
# Starts tansu (a Kafka-protocol broker, in-memory storage) on a free loopback port for the
# real-broker test suite, waits until it accepts connections, and prints shell exports:
#
#   eval "$(deploy/local-broker.sh start)"   # sets LOGINWATCH_KAFKA_BROKERS and BROKER_PID
#   cargo test -p loginwatch-service --test real_broker
#   deploy/local-broker.sh stop "$BROKER_PID"
#
# Only the export lines go to stdout; progress goes to stderr and the broker's log to a file.
set -euo pipefail

find_tansu() {
  if command -v tansu >/dev/null 2>&1; then command -v tansu; return; fi
  local c="${CARGO_HOME:-$HOME/.cargo}/bin/tansu"
  if [ -x "$c" ]; then echo "$c"; return; fi
  echo "tansu not found: run deploy/install-tansu.sh" >&2
  exit 1
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
  else
    echo $((20000 + RANDOM % 40000))
  fi
}

accepts() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  local tansu port log pid
  tansu="$(find_tansu)"
  for _attempt in 1 2 3; do
    port="$(free_port)"
    log="${TMPDIR:-/tmp}/loginwatch-tansu-$port.log"
    "$tansu" broker \
      --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" \
      --storage-engine memory://tansu/ \
      </dev/null >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 150); do
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      if accepts "$port"; then
        echo "tansu up on 127.0.0.1:$port (pid $pid, log $log)" >&2
        echo "export LOGINWATCH_KAFKA_BROKERS=127.0.0.1:$port"
        echo "export BROKER_PID=$pid"
        return 0
      fi
      sleep 0.1
    done
    echo "tansu did not come up on port $port; log:" >&2
    tail -n 20 "$log" >&2 || true
    kill "$pid" 2>/dev/null || true
  done
  exit 1
}

stop() {
  local pid="${1:-${BROKER_PID:-}}"
  if [ -z "$pid" ]; then echo "usage: $0 stop PID" >&2; exit 2; fi
  kill "$pid" 2>/dev/null || true
}

case "${1:-start}" in
  start) start ;;
  stop) shift; stop "$@" ;;
  *) echo "usage: $0 start | stop PID" >&2; exit 2 ;;
esac
