"""LOCKSTEP_ALERT_WEBHOOKS, the alert webhook targets' setting: the JSON list it reads (name, url,
format, secret, kinds, include_email), and bad input refused in one line that names the entry and the
field at fault and never echoes a secret. Pure parsing: no receiver, no database."""

from __future__ import annotations

import json

import pytest

from services.sla.notify import parse_targets
from tests.services.sla.notify.conftest import SECRET


def test_parse_targets_reads_the_json_setting() -> None:
    text = json.dumps(
        [
            {"name": "ops", "url": "https://hooks.example.com/lockstep", "format": "standard", "secret": SECRET},
            {
                "name": "sales_slack",
                "url": "https://hooks.slack.com/services/T0/B0/xyz",
                "format": "slack",
                "kinds": ["sla.breached", "sla.escalated"],
            },
            {"name": "local-dev", "url": "http://localhost:9000/hook"},
            {"name": "loopback", "url": "http://127.0.0.1:9000/hook", "format": "slack"},
        ]
    )
    ops, slack, local, loopback = parse_targets(text)
    assert (ops.name, ops.format, ops.secret, ops.kinds) == ("ops", "standard", SECRET, None)
    assert (slack.format, slack.secret, slack.kinds) == ("slack", None, ["sla.breached", "sla.escalated"])
    assert local.format == "standard" and loopback.url == "http://127.0.0.1:9000/hook"
    assert slack.wants("sla.breached") and not slack.wants("sla.warning") and ops.wants("loop.detected")
    assert SECRET not in repr(ops) and "xyz" not in repr(slack)
    assert parse_targets("") == [] and parse_targets("  ") == [] and parse_targets("[]") == []


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (
            [{"name": "ops", "url": "http://hooks.example.com/x"}],
            "url must be https:// (plain http:// is allowed only to 127.0.0.1 or localhost), got http://hooks.example.com",
        ),
        ([{"name": "ops", "url": "http://10.0.0.8/x"}], "url must be https://"),
        ([{"name": "ops", "format": "standard"}], "LOCKSTEP_ALERT_WEBHOOKS[0] (ops): url is required"),
        (
            [{"name": "ops", "url": "https://h.example.com", "format": "teams"}],
            "format: Input should be 'standard' or 'slack'",
        ),
        ([{"name": "ops", "url": "ftp://h.example.com"}], "url must be an absolute https:// URL"),
        ([{"name": "ops", "url": "https:///path-only"}], "url must be an absolute https:// URL"),
        ([{"name": "Ops Team", "url": "https://h.example.com"}], "name may only contain a-z, 0-9, _ and -"),
        (
            [{"name": "ops", "url": "https://h.example.com", "secret": "s3cr3t-not-whsec"}],
            "secret must start with whsec_",
        ),
        (
            [{"name": "ops", "url": "https://h.example.com", "secret": "whsec_!!notbase64"}],
            "secret must be whsec_ followed by base64",
        ),
        ([{"name": "ops", "url": "https://h.example.com", "kinds": ["sla.breach"]}], "kinds.0: Input should be"),
        ([{"name": "ops", "url": "https://h.example.com", "kinds": []}], "kinds must not be empty"),
        ([{"name": "ops", "url": "https://h.example.com", "kind": ["sla.breached"]}], "kind is not a known field"),
        (
            [{"name": "ops", "url": "https://a.example.com"}, {"name": "ops", "url": "https://b.example.com"}],
            "LOCKSTEP_ALERT_WEBHOOKS[1] (ops): name 'ops' is used",
        ),
        ({"name": "ops", "url": "https://h.example.com"}, "must be a JSON list of targets, got an object"),
        (["https://h.example.com"], "LOCKSTEP_ALERT_WEBHOOKS[0] must be an object"),
    ],
)
def test_parse_targets_rejects_bad_input_in_one_line(targets, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_targets(json.dumps(targets))
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert "notbase64" not in text and "s3cr3t" not in text  # secrets are never echoed


def test_parse_targets_names_a_json_syntax_error() -> None:
    with pytest.raises(ValueError, match=r"^LOCKSTEP_ALERT_WEBHOOKS is not valid JSON: .* at line 1 column \d+$"):
        parse_targets('[{"name": "ops",]')


def test_a_target_may_ask_for_the_email_and_does_not_by_default() -> None:
    [plain, with_email] = parse_targets(
        json.dumps(
            [
                {"name": "ops", "url": "https://h.example.com"},
                {"name": "crm", "url": "https://c.example.com", "include_email": True},
            ]
        )
    )
    assert not plain.include_email and with_email.include_email
