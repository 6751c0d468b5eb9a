"""Every alert kind the SLA raises is one a caller can filter GET /alerts by and a webhook target can
subscribe to: the lists are the published event's, not copies that fall behind it."""

from __future__ import annotations

from typing import get_args

from services.sla.app import create_app
from services.sla.notify.targets import DeliveryKind
from services.sla.settings import SlaSettings
from shared.events import AlertRaised

RAISED = set(get_args(AlertRaised.model_fields["kind"].annotation))


def test_get_alerts_filters_by_every_kind_raised(tmp_path):
    app = create_app(SlaSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/sla.db"))
    [parameter] = [p for p in app.openapi()["paths"]["/alerts"]["get"]["parameters"] if p["name"] == "type"]
    schema = parameter["schema"]
    offered = {kind for option in schema.get("anyOf", [schema]) for kind in option.get("enum", [])}
    assert offered == RAISED


def test_a_target_may_subscribe_to_every_kind_raised_and_to_the_monthly_review():
    assert set(get_args(DeliveryKind)) == RAISED | {"report.published"}
