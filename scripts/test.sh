#!/usr/bin/env bash
# `make test`: install, start the real backing services the suite needs, lint, run pytest, stop what we
# started. Services: etcd (Debian etcd-server), SecantusDB (a MongoDB-wire server from PyPI, test-only,
# run as a separate process), RabbitMQ (the machine's broker on 127.0.0.1:5672 when it answers, else an
# isolated one started here). Everything we start is stopped by PID in the EXIT trap.
# With --bench: the same services, then the benchmarks in bench/ instead of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-test}
RUN=$(mktemp -d /tmp/bcs-test.XXXXXX)
PIDS=()

cleanup() {
  local rc=$?
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$RUN"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '== %s\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() {  # wait_for WHAT SECONDS CMD...
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "!! $what not ready after ${secs}s" >&2; return 1; fi
    sleep 0.2
  done
  say "$what ready"
}

# 1. Debian packages: etcd (KV tests) and Prometheus (the Hook operator's prometheus provider tests).
MISSING=()
command -v etcd >/dev/null || MISSING+=(etcd-server)
command -v prometheus >/dev/null || MISSING+=(prometheus)
if ((${#MISSING[@]})); then
  say "installing ${MISSING[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # policy-rc.d: install without starting the packaged services (tests run their own instances).
  OWN_POLICY=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && OWN_POLICY=1
  fi
  apt-get install -y -qq --no-install-recommends "${MISSING[@]}" >/dev/null
  [[ -n "$OWN_POLICY" ]] && rm -f /usr/sbin/policy-rc.d
fi
# etcd first: it boots while pip runs.
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port)
etcd --name bcs-test --data-dir "$RUN/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "bcs-test=http://127.0.0.1:$ETCD_PEER" --log-level error --logger zap \
  >"$RUN/etcd.log" 2>&1 &
PIDS+=($!)

# 2. RabbitMQ: reuse the machine's broker, else start an isolated one (components.md).
AMQP_URL=amqp://guest:guest@127.0.0.1:5672/
if ! (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null; then
  say "no broker on 5672: starting an isolated RabbitMQ"
  RMQ_PORT=$(free_port); RMQ_DIST=$(free_port); EPMD_PORT=$(free_port)
  mkdir -p "$RUN/rmq/home"
  export RMQ_ENV="HOME=$RUN/rmq/home RABBITMQ_NODENAME=rabbit-bcs@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$RMQ_PORT RABBITMQ_DIST_PORT=$RMQ_DIST ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$EPMD_PORT RABBITMQ_MNESIA_BASE=$RUN/rmq/mnesia RABBITMQ_LOG_BASE=$RUN/rmq/log RABBITMQ_PID_FILE=$RUN/rmq/rabbit.pid RABBITMQ_ENABLED_PLUGINS_FILE=$RUN/rmq/enabled_plugins RABBITMQ_CONFIG_FILE=$RUN/rmq/rabbitmq"
  env ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT="$EPMD_PORT" epmd -address 127.0.0.1 -port "$EPMD_PORT" &
  PIDS+=($!)
  # shellcheck disable=SC2086
  env $RMQ_ENV RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    /usr/lib/rabbitmq/bin/rabbitmq-server >"$RUN/rmq.log" 2>&1 &
  PIDS+=($!)
  AMQP_URL=amqp://guest:guest@127.0.0.1:$RMQ_PORT/
  # shellcheck disable=SC2086
  rmq_ready() { env $RMQ_ENV /usr/lib/rabbitmq/bin/rabbitmqctl await_startup --timeout 5; }
  RMQ_WAIT=rmq_ready
fi

# 3. Python packages (the services above boot meanwhile).
say "installing .[test] into .venv"
make --no-print-directory install-test
BIN=.venv/bin

# 4. SecantusDB (test-only, GPL: a separate process spoken to only over the wire).
MONGO_PORT=$(free_port)
"$BIN/secantusd-py" --host 127.0.0.1 --port "$MONGO_PORT" --storage-path "$RUN/mongo" --log-level WARNING \
  >"$RUN/mongo.log" 2>&1 &
PIDS+=($!)

mongo_ping() {
  "$BIN/python" -c "import pymongo,sys; pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=500).admin.command('ping')" \
    "mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
}
wait_for etcd 30 curl -sf "http://127.0.0.1:$ETCD_PORT/health" || { cat "$RUN/etcd.log" >&2; exit 1; }
wait_for SecantusDB 60 mongo_ping || { cat "$RUN/mongo.log" >&2; exit 1; }
if [[ -n "${RMQ_WAIT:-}" ]]; then wait_for RabbitMQ 90 "$RMQ_WAIT" || { cat "$RUN/rmq.log" >&2; exit 1; }; fi

export BCS_TEST_ETCD="http://127.0.0.1:$ETCD_PORT"
export BCS_TEST_MONGO="mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true"
export BCS_TEST_AMQP="$AMQP_URL"

if [[ "$MODE" == "--bench" ]]; then
  for b in bench/*.py; do say "bench $b"; "$BIN/python" "$b"; done
  exit 0
fi

say "lint: ruff + import-linter"
"$BIN/ruff" check bcs tests bench
"$BIN/ruff" format --check bcs tests bench
"$BIN/lint-imports"

say "pytest"
set +e
# shellcheck disable=SC2086
"$BIN/python" -m pytest -n 2 -p no:cacheprovider ${PYTEST_ARGS:-}
rc=$?
set -e
if [[ $rc -eq 5 ]]; then echo "!! pytest collected no tests" >&2; exit 1; fi
exit $rc
