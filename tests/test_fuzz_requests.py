"""Generated hook requests: any value of any type anywhere gets 200 with cards or a 4xx naming the field; never a
500, and never an answer that loses an Avoid card over an entry it could not read."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_hooks import order_check
from cds_hooks.fetch import FetchResult
from cds_hooks.knowledge import load_knowledge
from cds_hooks.protocol import load_request
from cds_hooks.services import definitions
from service import create_app
from service.config import Settings
from tests.builders import bundle, hook_request, medication, ordered
from tests.conftest import FIXTURES, NOW
from tests.strategies import bent, json_values

pytestmark = pytest.mark.fuzz

MAOI = "order-sign-esketamine-maoi"
FIXTURE_NAMES = sorted(path.stem for path in FIXTURES.glob("*.json"))


@functools.cache
def fixture_body(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@functools.cache
def packaged_knowledge():
    return load_knowledge()


@functools.cache
def app_client(tmp: str):
    return create_app(Settings(database_url=f"sqlite:///{tmp}/fuzz.sqlite3"), clock=lambda: NOW).test_client()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return app_client(str(tmp_path_factory.mktemp("fuzz")))


def _service_path(body: dict[str, Any]) -> str:
    hook = body.get("hook")
    return "/cds-services/ketamine-order-select" if hook == "order-select" else "/cds-services/ketamine-order-sign"


@given(data=st.data(), name=st.sampled_from(FIXTURE_NAMES))
def test_a_fixture_bent_anywhere_is_answered_or_refused_never_a_500(client, data, name):
    body = data.draw(bent(fixture_body(name)))
    response = client.post(_service_path(fixture_body(name)), data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400, 412), response.get_data(as_text=True)
    if response.status_code == 200:
        assert isinstance(response.get_json()["cards"], list)


def _is_entry_part(path: tuple[Any, ...]) -> bool:
    """Paths inside the prefetched entries other than the MAOI (the first medication order)."""
    return len(path) > 3 and path[0] == "prefetch" and path[:4] != ("prefetch", "medicationRequests", "entry", 0)


def _with_maoi(extra: dict[str, Any]) -> dict[str, Any]:
    return hook_request(
        ordered("esketamine"),
        medications=[
            medication(code="8123", display="phenelzine 15 mg", ident="mao"),
            medication(code="36437", display="sertraline", route="oral", dosage_text="daily", ident="ssri"),
            extra,
        ],
        statements=[medication(kind="MedicationStatement", text="lithium 300 mg", route="oral")],
    )


@given(data=st.data(), value=json_values)
def test_an_avoid_card_survives_any_malformed_value_in_another_entry(data, value):
    body = _with_maoi(medication(text="alprazolam 1 mg", route="oral", dosage_text="at night"))
    body["prefetch"]["conditions"] = bundle([{"resourceType": "OperationOutcome",
                                               "issue": [{"severity": value, "code": "exception"}]}])
    body = data.draw(bent(body, keep=_is_entry_part))
    request = load_request(body, "order-sign")
    kb = packaged_knowledge()
    cards = order_check.answer(request, definitions(kb).by_id("ketamine-order-sign"), kb, NOW).as_json()["cards"]
    assert any(card["summary"].startswith("Avoid esketamine with phenelzine") for card in cards)


@given(data=st.data())
def test_fetched_bundles_of_any_shape_never_stop_the_check(data):
    """What a FHIR server answers is read as carefully as prefetch: entries of any shape, any resourceType."""
    body = _with_maoi(medication(text="alprazolam 1 mg", route="oral"))
    prefetch = body.pop("prefetch")
    body["fhirServer"] = "https://ehr.example.org/fhir"
    answers = {key: data.draw(bent(value)) for key, value in prefetch.items()}

    def fetch(request):
        return lambda queries: {key: FetchResult(bundle=answers.get(key, bundle([]))) for key in queries}

    request = load_request(body, "order-sign")
    kb = packaged_knowledge()
    cards = order_check.answer(request, definitions(kb).by_id("ketamine-order-sign"), kb, NOW, fetch).as_json()["cards"]
    assert isinstance(cards, list)
