"""The benchmark's scenario bodies are real calls: each answers 200 at the service of its hook with the cards it
is meant to give, and the baselines take each of them (the benchmark itself is run by hand, with wrk)."""

from __future__ import annotations

import json

import pytest

from bench.baselines import echo_app, naive_app
from bench.benchmark import ratios, service_url
from bench.scenarios import SCENARIOS

EXPECTED_CARDS = {"a-non-ketamine-50": 0, "b-ketamine-50": 3, "c-ketamine-500": 3, "e-patient-view-50": 0}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_answers_at_the_service_of_its_hook(client, tmp_path, name):
    body = SCENARIOS[name]()
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(body))
    url = service_url("http://127.0.0.1:8080", path)
    assert url == f"http://127.0.0.1:8080/cds-services/ketamine-{body['hook']}"
    response = client.post(url.removeprefix("http://127.0.0.1:8080"), json=body)
    assert response.status_code == 200, response.get_json()
    assert len(response.get_json()["cards"]) == EXPECTED_CARDS[name]
    for baseline in (echo_app, naive_app):
        answer = baseline.test_client().post(f"/cds-services/ketamine-{body['hook']}", json=body)
        assert answer.status_code == 200 and answer.get_json() == {"cards": []}


def test_the_patient_view_scenario_is_the_non_ketamine_patient_seen_by_patient_view():
    view, sign = SCENARIOS["e-patient-view-50"](), SCENARIOS["a-non-ketamine-50"]()
    assert view["hook"] == "patient-view" and "draftOrders" not in view["context"]
    assert view["prefetch"] == sign["prefetch"]
    assert len(view["prefetch"]["medicationRequests"]["entry"]) == 50


def test_ratios_compare_patient_view_with_the_non_ketamine_order():
    run = {"rps": 1000.0}
    apps = {app: {"scenarios": {name: dict(run) for name in SCENARIOS}} for app in ("service", "echo", "naive")}
    apps["service"]["scenarios"]["e-patient-view-50"] = {"rps": 800.0}
    assert ratios(apps)["e_over_a_per_request"] == pytest.approx(1.25, abs=0.01)
