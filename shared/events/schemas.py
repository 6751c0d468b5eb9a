"""JSON Schemas of the canonical events, exported for other teams' tools (`lockstep events schemas`
writes them to the repository's `docs/events/`)."""

from __future__ import annotations

from pathlib import Path

import orjson

from shared.events.catalog import EVENT_TYPES


def render_schemas() -> dict[str, bytes]:
    """File name -> schema bytes, one file per event type."""
    files = {}
    for event_type, model in sorted(EVENT_TYPES.items()):
        schema = model.model_json_schema(mode="serialization")
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://lockstep.dev/events/{event_type}.json",
            "x-cloudevents-type": event_type,
            **schema,
        }
        files[f"{event_type}.json"] = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    return files


def write_schemas(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in render_schemas().items():
        path = directory / name
        path.write_bytes(content)
        written.append(path)
    return written


def stale_schemas(directory: Path) -> list[str]:
    """Names of schema files that are missing, outdated or no longer produced."""
    expected = render_schemas()
    stale = [
        name
        for name, content in expected.items()
        if not (directory / name).is_file() or (directory / name).read_bytes() != content
    ]
    if directory.is_dir():
        stale += [p.name for p in directory.glob("*.json") if p.name not in expected]
    return sorted(stale)
