"""The fake HubSpot (hubspot.py) seen from outside: its webhooks posted back to ingest as HubSpot posts
them, and the fake run as a process of its own (`python -m tests.support.crm.hubspot_outside`), as a
benchmark needs it: HubSpot does not share the writer's process."""

from __future__ import annotations

import argparse
import time

import httpx

from tests.support.crm.hubspot import Change, FakeHubSpot
from tests.support.webhooks import Vendors, deliver


async def post_webhooks(door: httpx.AsyncClient, changes: list[Change]) -> list[int]:
    """POST HubSpot's propertyChange webhooks for `changes` to ingest (`door`), one request per change in
    the order they happened, signed with v3 as HubSpot signs them; returns each request's final status."""
    vendors = Vendors()
    return [
        (await deliver(door, vendors.hubspot(int(change.contact_id), {change.name: change.new}))).status
        for change in changes
    ]


def main() -> None:
    """`python -m tests.support.crm.hubspot --port P --contacts N ...`: the fake in a process of its own
    (a benchmark's: HubSpot is not in the writer's process), serving until it is stopped."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--contacts", type=int, required=True)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--per-second", type=int)
    args = parser.parse_args()
    fake = FakeHubSpot(args.token, burst=args.burst, window_s=args.window_s, per_second=args.per_second, port=args.port)
    fake.add_contacts(*range(1, args.contacts + 1))
    fake.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
