"""The benchmark's scenario bodies are real calls: each answers 200 at the service of its hook with the cards it
is meant to give, and the baselines take each of them (the benchmark itself is run by hand, with wrk)."""

from __future__ import annotations

import json

import pytest

from bench.baselines import echo_app, naive_app
from bench.benchmark import fetch_bound, ratios, service_url, work_per_call
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


def test_the_sandbox_work_is_counted_per_call_from_its_request_lines():
    lines = [
        "GET /fhir/MedicationRequest 200 9.5 ms + 200 ms delay",
        "GET /fhir/Observation 200 4.0 ms + 200 ms delay",
        "GET /fhir/Medication/nardil 200 0.5 ms + 200 ms delay",
        "OPTIONS /fhir/Observation 204 0.1 ms + 200 ms delay",
        "(node:123) ExperimentalWarning: WebSocket is an experimental feature",
        "GET /fhir/MedicationRequest 200 10.5 ms + 200 ms delay",
        "GET /fhir/Observation 200 6.0 ms",
    ]
    work = work_per_call(lines, 2, "/fhir")
    assert work["ms_per_call"] == pytest.approx(15.25)
    assert work["queries_per_call"] == 2.5
    assert work["ms_per_call_by_type"] == pytest.approx({"MedicationRequest": 10.0, "Observation": 5.0,
                                                         "Medication": 0.25})
    assert list(work["ms_per_call_by_type"]) == ["MedicationRequest", "Observation", "Medication"]


def test_the_fetch_mode_bound_counts_the_sandbox_work_beside_one_and_a_half_delays():
    fetch = {"delay_ms": 200, "prefetch_p50_ms": 5.0, "sandbox": {"ms_per_call": 30.0}}
    assert fetch_bound(fetch) == pytest.approx(335.0)
