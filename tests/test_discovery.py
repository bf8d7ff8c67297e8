from cds_hooks.services import SERVICES
from tests.cardcheck import assert_no_empty_values


def test_discovery_lists_an_order_select_and_an_order_sign_service(client):
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.get_json()["services"]
    assert {service["hook"] for service in services} == {"order-select", "order-sign"}
    for service in services:
        assert_no_empty_values(service, service["id"])
        assert {"hook", "id", "title", "description", "prefetch"} <= set(service)


def test_prefetch_templates_use_only_context_tokens_the_spec_allows(client):
    for service in client.get("/cds-services").get_json()["services"]:
        for key, template in service["prefetch"].items():
            assert "{{context.patientId}}" in template, key
            assert template.split("?")[0] in {"MedicationRequest", "MedicationStatement", "Condition"}


def test_every_service_is_callable_at_its_discovery_id(client, fixture):
    for definition in SERVICES:
        body = fixture("order-sign-ketamine-no-interaction")
        body["hook"] = definition.hook
        body["context"]["selections"] = ["MedicationRequest/draft-ketamine"]
        response = client.post(f"/cds-services/{definition.id}", json=body)
        assert response.status_code == 200, response.get_json()


def test_discovery_rejects_post_with_405(client):
    response = client.post("/cds-services", json={})
    assert response.status_code == 405
    assert response.get_json()["resourceType"] == "OperationOutcome"
