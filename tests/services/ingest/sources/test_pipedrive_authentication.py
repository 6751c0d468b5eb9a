"""Pipedrive signs nothing: HTTP Basic credentials configured on the webhook are all that proves a
delivery is Pipedrive's, so they are checked exactly (any wrong part, scheme or encoding is a 401),
with rotation, and they cover no body.
"""

from __future__ import annotations

import base64

import pytest

from services.ingest.sources.base import Unauthorized
from services.simulator.signing import basic_auth
from tests.services.ingest.sources.factories import PIPEDRIVE_PASSWORD, PIPEDRIVE_USER, pipedrive
from tests.services.ingest.sources.pipedrive_samples import AUTH, PERSON_CHANGE, pd_request


def test_valid_basic_auth_authenticates():
    pipedrive().authenticate(pd_request(PERSON_CHANGE))


def test_lower_case_scheme_is_accepted():
    token = AUTH["authorization"].split(" ", 1)[1]
    pipedrive().authenticate(pd_request(PERSON_CHANGE, {"authorization": f"basic {token}"}))


@pytest.mark.parametrize(
    "headers",
    [
        basic_auth(PIPEDRIVE_USER, "wrong"),
        basic_auth("someone", PIPEDRIVE_PASSWORD),
        basic_auth(PIPEDRIVE_USER, PIPEDRIVE_PASSWORD + "x"),
        {"authorization": "Bearer " + base64.b64encode(f"{PIPEDRIVE_USER}:{PIPEDRIVE_PASSWORD}".encode()).decode()},
        {"authorization": "Basic !!!not-base64!!!"},
        {"authorization": "Basic"},
        {"authorization": ""},
        {},
    ],
    ids=["wrong-password", "wrong-user", "longer-password", "bearer", "not-base64", "no-token", "empty", "missing"],
)
def test_wrong_or_missing_credentials_are_unauthorized(headers):
    with pytest.raises(Unauthorized):
        pipedrive().authenticate(pd_request(PERSON_CHANGE, headers))


def test_no_credentials_configured_is_unauthorized():
    with pytest.raises(Unauthorized, match="BASIC_AUTH"):
        pipedrive(credentials=[]).authenticate(pd_request(PERSON_CHANGE))


@pytest.mark.parametrize("pair", [("lockstep", "old-password"), ("lockstep", "new-password")])
def test_either_rotated_pair_is_accepted(pair):
    pipedrive(credentials=["lockstep:old-password", "lockstep:new-password"]).authenticate(
        pd_request(PERSON_CHANGE, basic_auth(*pair))
    )


def test_basic_auth_does_not_cover_the_body():
    # Pipedrive signs nothing: the credentials are all there is, so any body passes with them.
    pipedrive().authenticate(pd_request(b"tampered"))
