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
echo "ingest :${LOCKSTEP_INGEST_PORT:-8001}  scoring :${LOCKSTEP_SCORING_PORT:-8002}  sla :${LOCKSTEP_SLA_PORT:-8003}  (Ctrl-C stops all)" >&2
# When one service dies, stop the others: a half-running pipeline hides problems.
wait -n "${pids[@]}" || true
stop
