"""Claims of the wrong JSON type are refused, whatever PyJWT would make of them; any claim value is a 200 or a
401, never a 500."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.auth.test_auth import assert_refused, discover
from tests.strategies import json_values


@pytest.mark.parametrize("jti", ["", "   "])
def test_an_empty_jti_is_refused(auth_app, es384, refusals, jti):
    assert_refused(discover(auth_app, es384.token(jti=jti)), refusals, "invalid-claim")


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
def test_a_time_sent_as_a_numeric_string_is_refused(auth_app, es384, refusals, claim):
    value = str(int(time.time()) + (120 if claim == "exp" else -5))
    assert_refused(discover(auth_app, es384.token(**{claim: value})), refusals, "invalid-claim")


def test_a_token_with_numeric_times_and_a_jti_is_accepted(auth_app, es384):
    assert discover(auth_app, es384.token(nbf=int(time.time()) - 5)).status_code == 200


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(claim=st.sampled_from(["exp", "iat", "nbf", "jti", "aud", "tenant"]), value=json_values)
@pytest.mark.fuzz
def test_any_value_of_any_claim_is_accepted_only_with_its_right_type(auth_app, es384, claim, value):
    response = discover(auth_app, es384.token(**{claim: value}))
    assert response.status_code in (200, 401)
    if response.status_code == 200 and claim in ("exp", "iat", "nbf"):
        assert isinstance(value, int | float) and not isinstance(value, bool)
    if response.status_code == 200 and claim == "jti":
        assert isinstance(value, str) and value.strip()
