"""`lockstep keys ...`: API keys on the keys topic (shared/access/manage.py), from the command line.

A new key is printed once, alone on stdout (so `key=$(lockstep keys create ...)` captures
it); everything meant for a person goes to stderr. Nothing here ever prints a hash. Bad input is
one line and exit status 2; Kafka not answering is one line and exit status 1 (errors.py).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from services.cli.arguments import Commands
from services.cli.errors import CliError, CliUnavailable, operate
from shared.access.keyring import KeyRingUnavailable
from shared.access.keys import KeyProblem, Role, check_name, new_key, parse_role
from shared.access.manage import KeyStore
from shared.settings import LockstepSettings, load_settings

T = TypeVar("T")


def _store() -> KeyStore:
    return KeyStore(load_settings(LockstepSettings))


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """The coroutine's result; a refused name or key is the user's one line, the broker's silence Kafka's."""
    try:
        return operate(work)
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    except KeyRingUnavailable as exc:
        raise CliUnavailable(f"{exc} (LOCKSTEP_KAFKA_BOOTSTRAP, LOCKSTEP_TOPIC_PREFIX)") from None


def _create(args: argparse.Namespace) -> int:
    try:
        name, role = check_name(args.name), parse_role(args.role)  # refused before Kafka is asked anything
    except KeyProblem as exc:
        raise CliError(str(exc)) from None
    record, token = _run(lambda: _store().create(name, role))
    print(token)
    print(
        f"key {record.name} ({record.role.value}, id {record.id}) created; it is shown only this once", file=sys.stderr
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    records = _run(lambda: _store().current())
    rows = [("NAME", "ROLE", "ID", "CREATED", "REVOKED")]
    for r in records:
        revoked = r.revoked_at.isoformat(timespec="seconds") if r.revoked_at else "-"
        rows.append((r.name, r.role.value, r.id, r.created_at.isoformat(timespec="seconds"), revoked))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    return 0


def _revoke(args: argparse.Namespace) -> int:
    try:
        name = check_name(args.name)
    except KeyProblem as exc:
        raise CliError(str(exc).replace("--name", "NAME", 1)) from None
    record = _run(lambda: _store().revoke(name))
    print(f"key {record.name} (id {record.id}) revoked; every service refuses it within seconds", file=sys.stderr)
    return 0


def _bootstrap_admin(args: argparse.Namespace) -> int:
    settings = load_settings(LockstepSettings)
    given = os.environ.get("LOCKSTEP_ADMIN_KEY", "").strip() or None
    outcome = _run(lambda: KeyStore(settings).bootstrap_admin(given))
    if outcome is None:
        print("an active admin key exists; nothing to do (lockstep keys list)", file=sys.stderr)
        return 0
    record, token = outcome
    if token is None:
        print(f"first admin key {record.name} registered from LOCKSTEP_ADMIN_KEY (id {record.id})", file=sys.stderr)
        return 0
    print(token)
    print(
        f"first admin key created (shown only this once). Use it as: curl -H 'Authorization: Bearer {token}'"
        f" http://127.0.0.1:{settings.scoring_port}/funnel - and sign in to the dashboard at"
        f" http://127.0.0.1:{settings.sla_port}/dashboard with it",
        file=sys.stderr,
    )
    return 0


def _generate(args: argparse.Namespace) -> int:
    # A well-formed key registered nowhere: for LOCKSTEP_ADMIN_KEY, which `bootstrap-admin` registers.
    print(new_key("unregistered", Role.ADMIN)[1])
    return 0


def add_keys(commands: Commands) -> None:
    keys = commands.add_parser("keys", help="API keys (hashes on the keys topic)").add_subparsers(
        dest="keys_command", required=True
    )
    create = keys.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="unique among active keys: letters, digits, . _ -")
    create.add_argument("--role", required=True, help="viewer, operator or admin")
    create.set_defaults(func=_create)
    keys.add_parser("list", help="the keys: name, role, id, created, revoked (never hashes)").set_defaults(func=_list)
    revoke = keys.add_parser("revoke", help="revoke the active key with this name")
    revoke.add_argument("name")
    revoke.set_defaults(func=_revoke)
    keys.add_parser(
        "bootstrap-admin", help="create the first admin key unless an active one exists (LOCKSTEP_ADMIN_KEY: use it)"
    ).set_defaults(func=_bootstrap_admin)
    keys.add_parser("generate", help="print a new well-formed key without registering it").set_defaults(func=_generate)
