#!/usr/bin/env bash
# Prints the deployment secret: LOCKSTEP_SECRET_KEY when it is set, else the one kept in var/secret_key,
# generated there once (readable by this user only). Lead keys are derived from it: a new secret gives
# every person a new key, so the file is kept like a database password.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${LOCKSTEP_SECRET_KEY:-}" ]; then
  printf '%s\n' "$LOCKSTEP_SECRET_KEY"
  exit 0
fi
mkdir -p var
[ -s var/secret_key ] || (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >var/secret_key)
cat var/secret_key
