"""Reading /metrics as a scraper would: one sample's value from the Prometheus text the app serves."""

from __future__ import annotations

import socket

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families


def scraped(client: FlaskClient, name: str, **labels: str) -> float:
    """The value /metrics shows for the sample ``name`` with exactly these labels (0 when it is not shown)."""
    response = client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


def closed_port() -> int:
    """A loopback port nothing listens on (it was free a moment ago, and nothing here takes it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
