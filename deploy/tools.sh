#!/usr/bin/env bash
# Debian packages the test suite uses beyond Python: installed once when missing (needs root).
#   docker-compose  validates docker-compose.yml without an engine (tests/deploy)
#   chromium        the headless browser the dashboard test drives with playwright-core (tests/browser)
set -euo pipefail
missing=()
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v chromium >/dev/null || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then echo "tools.sh: missing ${missing[*]}; install them with apt-get (needs root)" >&2; exit 1; fi
echo "tools.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
