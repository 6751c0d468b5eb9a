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
mkdir -p var
# The deployment secret lead keys are derived from and dashboard sessions are signed with: the
# environment's, or one generated into var/secret_key once (readable by this user only) and kept.
LOCKSTEP_SECRET_KEY=$(deploy/secret_key.sh)
export LOCKSTEP_SECRET_KEY
# Secure by default: no admin key yet, one is created and shown here, once (with how to use it).
"$bin/lockstep" keys bootstrap-admin
# The dashboard's own viewer key for scoring's funnel, made once per topic prefix and kept in var/.
if [ -z "${LOCKSTEP_SCORING_KEY:-}" ]; then
  keyfile="var/scoring-key.${LOCKSTEP_TOPIC_PREFIX:-lockstep.}"
  if [ ! -s "$keyfile" ]; then
    # A key under that name whose file is gone cannot be shown again: replace it.
    "$bin/lockstep" keys revoke sla-dashboard >/dev/null 2>&1 || true
    (umask 077 && "$bin/lockstep" keys create --name sla-dashboard --role viewer 2>/dev/null >"$keyfile.new") ||
      { echo "could not create the dashboard's viewer key (lockstep keys create --name sla-dashboard --role viewer)" >&2; exit 1; }
    mv "$keyfile.new" "$keyfile"
  fi
  LOCKSTEP_SCORING_KEY=$(cat "$keyfile")
  export LOCKSTEP_SCORING_KEY
fi
for service in ingest scoring sla; do
  "$bin/lockstep" serve "$service" &
  pids+=($!)
done
host=${LOCKSTEP_HOST:-127.0.0.1}
cat >&2 <<END
ingest   http://$host:${LOCKSTEP_INGEST_PORT:-8001}  webhooks: POST /webhooks/{source}; OpenAPI: /openapi.json
scoring  http://$host:${LOCKSTEP_SCORING_PORT:-8002}  /leads /funnel /contract; OpenAPI: /openapi.json
sla      http://$host:${LOCKSTEP_SLA_PORT:-8003}  ops dashboard: /dashboard; /alerts /sla/compliance; OpenAPI: /openapi.json
every API but the webhooks takes a key: Authorization: Bearer lsk_... (lockstep keys create)
Ctrl-C stops all
END
# When one service dies, stop the others: a half-running pipeline hides problems.
wait -n "${pids[@]}" || true
stop
