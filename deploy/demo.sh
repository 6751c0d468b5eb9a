#!/usr/bin/env bash
# The demo: the three services, the simulator for a while, then the funnel and SLA compliance.
# A demo contract (var/demo-contract.yaml) compresses the first-touch SLA to seconds on the 24x7
# calendar, to match the simulator's time scale (one scenario hour = 0.2 real seconds).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${VENV:-.venv}/bin
duration=${DEMO_SECONDS:-60}
mkdir -p var
LOCKSTEP_SECRET_KEY=$(deploy/secret_key.sh)  # lead keys: the environment's secret, or the one kept in var/
export LOCKSTEP_SECRET_KEY
"$bin/python" -c 'from services.simulator.contracts import with_first_touch; print(with_first_touch("1s", version="2026.1-demo"), end="")' >var/demo-contract.yaml
export LOCKSTEP_CONTRACT=$PWD/var/demo-contract.yaml
# Demo credentials, shared by the ingest service and the simulator (the simulator's built-in values).
export LOCKSTEP_HUBSPOT_CLIENT_SECRET=${LOCKSTEP_HUBSPOT_CLIENT_SECRET:-sim-hubspot-secret}
export LOCKSTEP_SALESFORCE_ORG_IDS=${LOCKSTEP_SALESFORCE_ORG_IDS:-00Dsimulator0000AAA}
export LOCKSTEP_SALESFORCE_TOKEN=${LOCKSTEP_SALESFORCE_TOKEN:-sim-salesforce-token}
export LOCKSTEP_MARKETO_TOKEN=${LOCKSTEP_MARKETO_TOKEN:-sim-marketo-token}
export LOCKSTEP_PIPEDRIVE_BASIC_AUTH=${LOCKSTEP_PIPEDRIVE_BASIC_AUTH:-pipedrive:sim-pipedrive-password}
export LOCKSTEP_GENERIC_SECRET=${LOCKSTEP_GENERIC_SECRET:-whsec_c2ltdWxhdG9yLWdlbmVyaWMtc2VjcmV0LTMyYiE=}
export LOCKSTEP_TOPIC_PREFIX=${LOCKSTEP_TOPIC_PREFIX:-demo$(date +%s).}
# Not inside ${...:-...}: the "}" of {service} would end the expansion early.
default_url="sqlite+aiosqlite:///./var/demo-$(date +%s)-{service}.db"
export LOCKSTEP_DATABASE_URL=${LOCKSTEP_DATABASE_URL:-$default_url}
"$bin/lockstep" contract check "$LOCKSTEP_CONTRACT" >/dev/null
# The demo's first admin key, before the services start (deploy/run.sh then finds it and makes none).
key=$("$bin/lockstep" keys bootstrap-admin 2>/dev/null)
[ -n "$key" ] || key=$("$bin/lockstep" keys create --name "demo-$(date +%s)" --role admin 2>/dev/null)
deploy/run.sh >var/demo-services.log 2>&1 &
stack=$!
trap 'kill -TERM $stack 2>/dev/null; wait $stack 2>/dev/null || true' EXIT
for port in 8001 8002 8003; do
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do sleep 0.5; done
done
echo "services ready; simulating for $duration s (log: var/demo-services.log)" >&2
echo "admin key (shown once): $key" >&2
echo "  e.g. curl -H \"Authorization: Bearer $key\" http://127.0.0.1:8002/funnel; or sign in at http://127.0.0.1:8003/dashboard" >&2
auth=(-H "Authorization: Bearer $key")
"$bin/lockstep" simulate --rate "${DEMO_RATE:-50}" --duration "$duration" --time-scale 0.2 --seed "${DEMO_SEED:-7}"
sleep 5  # let scoring and the SLA scanner catch up
echo "--- funnel (scoring :8002/funnel)"
curl -s "${auth[@]}" "http://127.0.0.1:8002/funnel" | "$bin/python" -m json.tool
echo "--- SLA compliance (sla :8003/sla/compliance)"
curl -s "${auth[@]}" "http://127.0.0.1:8003/sla/compliance?group_by=policy" | "$bin/python" -m json.tool
echo "--- open alerts"
# No "| head" here: under pipefail the pipe it closes would fail the demo.
curl -s "${auth[@]}" "http://127.0.0.1:8003/alerts?status=open&limit=3" | "$bin/python" -m json.tool
