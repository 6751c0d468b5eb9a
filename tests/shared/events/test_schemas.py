from shared.events import EVENT_TYPES
from shared.events.schemas import render_schemas, stale_schemas, write_schemas
from tests.support.infra import REPO


def test_exported_schemas_are_current():
    """Fails when an event model changed without `lockstep events schemas` (make schemas)."""
    assert stale_schemas(REPO / "docs" / "events") == []


def test_every_event_type_has_a_schema_and_staleness_is_detected(tmp_path):
    assert set(render_schemas()) == {f"{t}.json" for t in EVENT_TYPES}
    write_schemas(tmp_path)
    assert stale_schemas(tmp_path) == []
    victim = tmp_path / "lockstep.alert.raised.v1.json"
    victim.write_text("{}")
    (tmp_path / "lockstep.gone.v1.json").write_text("{}")
    assert stale_schemas(tmp_path) == ["lockstep.alert.raised.v1.json", "lockstep.gone.v1.json"]
