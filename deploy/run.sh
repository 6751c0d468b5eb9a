#!/usr/bin/env bash
# Runs the three services as separate processes; Ctrl-C (or SIGTERM) stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
pids=()
stop() {
  trap - INT TERM
  echo "stopping services..." >&2
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM
for service in ingest scoring sla; do
  "$bin/lockstep" serve "$service" &
  pids+=($!)
done
host=${LOCKSTEP_HOST:-127.0.0.1}
cat >&2 <<END
ingest   http://$host:${LOCKSTEP_INGEST_PORT:-8001}  webhooks: POST /webhooks/{source}; API docs: /docs
scoring  http://$host:${LOCKSTEP_SCORING_PORT:-8002}  /leads /funnel /contract; API docs: /docs
sla      http://$host:${LOCKSTEP_SLA_PORT:-8003}  ops dashboard: /dashboard; /alerts /sla/compliance; API docs: /docs
Ctrl-C stops all
END
# When one service dies, stop the others: a half-running pipeline hides problems.
wait -n "${pids[@]}" || true
stop
