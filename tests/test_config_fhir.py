"""Settings for reading from the EHR's FHIR server."""

from __future__ import annotations

import pytest

from service import create_app
from service.config import ConfigError, Settings
from service.fhir.client import FhirClient
from service.runtime import runtime


def test_fhir_settings_default_to_half_a_second_ten_pages_and_https_only():
    settings = Settings.from_env({})
    assert (settings.fhir_timeout_seconds, settings.fhir_max_pages, settings.allow_http_fhir) == (0.5, 10, False)


def test_fhir_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {"CDS_FHIR_TIMEOUT_SECONDS": "0.8", "CDS_FHIR_MAX_PAGES": "3", "CDS_ALLOW_HTTP_FHIR": "true"}
    )
    assert (settings.fhir_timeout_seconds, settings.fhir_max_pages, settings.allow_http_fhir) == (0.8, 3, True)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CDS_FHIR_TIMEOUT_SECONDS", "fast", "CDS_FHIR_TIMEOUT_SECONDS must be a number of seconds, not 'fast'"),
        ("CDS_FHIR_TIMEOUT_SECONDS", "0", "CDS_FHIR_TIMEOUT_SECONDS must be more than 0 and at most 60 seconds"),
        ("CDS_FHIR_TIMEOUT_SECONDS", "nan", "CDS_FHIR_TIMEOUT_SECONDS must be more than 0 and at most 60 seconds"),
        ("CDS_FHIR_MAX_PAGES", "0", "CDS_FHIR_MAX_PAGES must be at least 1, not 0"),
        ("CDS_ALLOW_HTTP_FHIR", "maybe", "CDS_ALLOW_HTTP_FHIR must be true or false, not 'maybe'"),
    ],
)
def test_an_invalid_fhir_setting_stops_start_up_naming_the_variable(name, value, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({name: value})


def test_the_app_reads_the_fhir_server_with_a_client_built_from_the_settings():
    fetch = runtime(create_app(Settings(fhir_timeout_seconds=0.3, fhir_max_pages=4, allow_http_fhir=True))).fetch
    assert isinstance(fetch, FhirClient)
    assert (fetch.timeout_seconds, fetch.max_pages, fetch.allow_http) == (0.3, 4, True)
