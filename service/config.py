"""Settings from environment variables, read once at start-up into a frozen object.

A missing or invalid setting stops start-up with a message naming the variable. Every variable is listed, with
its default, in the configuration reference (docs/configuration.md).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROMETHEUS_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""Where gunicorn's workers keep their metrics, so that a scrape adds them up."""
DEFAULT_PORT = 8080
"""The port either server listens on when not told otherwise; the container exposes it and the Helm chart's
``server.port`` defaults to it."""
PRODUCTION_HOST = "0.0.0.0"
"""The production server listens on every interface, so that it is reachable from outside its container."""
DEFAULT_BIND = f"{PRODUCTION_HOST}:{DEFAULT_PORT}"
"""gunicorn's address when ``CDS_BIND`` is unset (docs/configuration.md gives the same)."""


class ConfigError(ValueError):
    """A setting is invalid; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    max_request_bytes: int = 5 * 1024 * 1024
    knowledge_dir: Path | None = None
    knowledge_overrides: Path | None = None
    log_level: str = "INFO"
    env: str = "development"
    auth_mode: str | None = None
    """``off`` or ``jwt``; None (unset) means off with a warning, refused when ``env`` is production."""
    trusted_issuers_file: Path | None = None
    public_base_url: str | None = None
    jwt_leeway_seconds: int = 30
    cors_origins: tuple[str, ...] | None = None
    """None: every origin in development, none in production."""
    database_url: str | None = field(default=None, repr=False)
    """None: the embedded SQLite file under ./var/. Kept out of repr, like every field that may hold a secret."""
    db_migrate: str = "auto"
    redis_url: str | None = field(default=None, repr=False)
    patient_hash_key: str | None = field(default=None, repr=False)
    fhir_timeout_seconds: float = 0.5
    fhir_max_pages: int = 10
    allow_http_fhir: bool = False
    rxnav_url: str | None = None
    rxnav_timeout: float = 2.0
    rxnav_cache_size: int = 10_000
    rxnav_cache_ttl: int = 86_400
    workers: int = 2
    """Production server only: gunicorn worker processes (``CDS_WORKERS``)."""
    monitor_cards: str = "combined"
    """``combined``: the Monitor findings of one ordered drug on one card; ``per-rule``: a card each."""
    repeat_filter: bool = False
    """The site's default for the PDDI configuration items when the EHR sends none: remember what order-select
    showed and leave repeats out of order-sign."""
    repeat_filter_seconds: int = 3600
    """How long what order-select showed is remembered for order-sign."""
    quiet_hours: int = 0
    """Hours a Monitor or Hold finding overridden with a reason is not shown again for the patient; 0: off."""
    console: bool | None = None
    """The console under /console/: None (unset) means on in development and off in production."""
    console_token: str | None = field(default=None, repr=False)
    """The console's own credential (HTTP Basic password or bearer token); required to enable it in production."""

    @property
    def console_enabled(self) -> bool:
        return self.env != "production" if self.console is None else self.console

    def __post_init__(self) -> None:
        if self.env == "production" and self.auth_mode is None:
            raise ConfigError("CDS_AUTH_MODE must be set when CDS_ENV is production: jwt, or off to run without "
                              "client authentication")
        if self.auth_mode == "jwt" and self.trusted_issuers_file is None:
            raise ConfigError("CDS_TRUSTED_ISSUERS_FILE must name the trusted issuers file when CDS_AUTH_MODE is jwt")
        if self.env == "production" and not self.patient_hash_key:
            raise ConfigError("CDS_PATIENT_HASH_KEY must be set when CDS_ENV is production")
        if self.env == "production" and self.auth_mode == "jwt" and not self.public_base_url:
            raise ConfigError("CDS_PUBLIC_BASE_URL must be set when CDS_ENV is production and CDS_AUTH_MODE is jwt: "
                              "it names the audience (aud) tokens must carry; taken from the request's Host header, "
                              "a token minted for another service would be accepted when sent with that Host")
        if self.env == "production" and self.auth_mode == "jwt" and not self.redis_url and self.workers > 1:
            raise ConfigError(f"REDIS_URL must be set when CDS_ENV is production, CDS_AUTH_MODE is jwt and "
                              f"CDS_WORKERS is above 1 ({self.workers}): without a shared store of used token ids "
                              f"each worker accepts a replayed token once. Set REDIS_URL, or run one worker "
                              f"(CDS_WORKERS=1) in a single replica")
        if self.env == "production" and self.console_enabled and not self.console_token:
            raise ConfigError("CDS_CONSOLE_TOKEN must be set when CDS_CONSOLE is true and CDS_ENV is production")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            max_request_bytes=int_setting(env, "CDS_MAX_REQUEST_BYTES", cls.max_request_bytes, minimum=1024),
            knowledge_dir=_path(env, "CDS_KNOWLEDGE_DIR", must_be_dir=True),
            knowledge_overrides=_path(env, "CDS_KNOWLEDGE_OVERRIDES"),
            log_level=_choice(env, "CDS_LOG_LEVEL", cls.log_level, ("DEBUG", "INFO", "WARNING", "ERROR")),
            env=_choice(env, "CDS_ENV", cls.env.upper(), ("DEVELOPMENT", "PRODUCTION")).lower(),
            auth_mode=_choice(env, "CDS_AUTH_MODE", "", ("OFF", "JWT")).lower() or None,
            trusted_issuers_file=_path(env, "CDS_TRUSTED_ISSUERS_FILE"),
            public_base_url=_base_url(env, "CDS_PUBLIC_BASE_URL"),
            jwt_leeway_seconds=int_setting(env, "CDS_JWT_LEEWAY_SECONDS", cls.jwt_leeway_seconds, minimum=0),
            cors_origins=_origins(env, "CDS_CORS_ORIGINS"),
            database_url=env.get("DATABASE_URL", "").strip() or None,
            db_migrate=_choice(env, "CDS_DB_MIGRATE", cls.db_migrate.upper(), ("AUTO", "OFF")).lower(),
            redis_url=env.get("REDIS_URL", "").strip() or None,
            patient_hash_key=_secret(env, "CDS_PATIENT_HASH_KEY", minimum=32),
            fhir_timeout_seconds=_seconds(env, "CDS_FHIR_TIMEOUT_SECONDS", cls.fhir_timeout_seconds),
            fhir_max_pages=int_setting(env, "CDS_FHIR_MAX_PAGES", cls.fhir_max_pages, minimum=1),
            allow_http_fhir=_flag(env, "CDS_ALLOW_HTTP_FHIR"),
            rxnav_url=_base_url(env, "CDS_RXNAV_URL"),
            rxnav_timeout=_seconds(env, "CDS_RXNAV_TIMEOUT", cls.rxnav_timeout),
            rxnav_cache_size=int_setting(env, "CDS_RXNAV_CACHE_SIZE", cls.rxnav_cache_size, minimum=1),
            rxnav_cache_ttl=int_setting(env, "CDS_RXNAV_CACHE_TTL", cls.rxnav_cache_ttl, minimum=1),
            workers=int_setting(env, "CDS_WORKERS", cls.workers, minimum=1),
            monitor_cards=_choice(env, "CDS_MONITOR_CARDS", "COMBINED", ("COMBINED", "PER-RULE")).lower(),
            repeat_filter=_flag(env, "CDS_REPEAT_FILTER"),
            repeat_filter_seconds=_number(env, "CDS_REPEAT_FILTER_SECONDS", cls.repeat_filter_seconds, int,
                                          "a whole number", lambda value: 60 <= value <= 86_400,
                                          "from 60 to 86400 seconds"),
            quiet_hours=_number(env, "CDS_QUIET_AFTER_OVERRIDE_HOURS", cls.quiet_hours, int, "a whole number",
                                lambda value: 0 <= value <= 720, "from 0 (off) to 720 hours"),
            console=_flag(env, "CDS_CONSOLE") if env.get("CDS_CONSOLE", "").strip() else None,
            console_token=_secret(env, "CDS_CONSOLE_TOKEN", minimum=32),
        )


def int_setting(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    return _number(env, name, default, int, "a whole number", lambda value: value >= minimum, f"at least {minimum}")


def _path(env: Mapping[str, str], name: str, must_be_dir: bool = False) -> Path | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    path = Path(raw)
    if must_be_dir and not path.is_dir():
        raise ConfigError(f"{name} must name a folder; {raw!r} is not one")
    if not must_be_dir and not path.is_file():
        raise ConfigError(f"{name} must name a file; {raw!r} is not one")
    return path


def _choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip().upper()
    if not raw:
        return default
    if raw not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw


def _base_url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) URL without query or fragment, not {raw!r}")
    return raw.rstrip("/")


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    if name not in env:
        return None
    origins = tuple(origin.strip().rstrip("/") for origin in env[name].split(",") if origin.strip())
    for origin in origins:
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path):
            raise ConfigError(f"{name} must list origins such as https://sandbox.cds-hooks.org or *, not {origin!r}")
    return origins


def _secret(env: Mapping[str, str], name: str, minimum: int) -> str | None:
    raw = env.get(name, "").strip()
    if raw and len(raw) < minimum:
        raise ConfigError(f"{name} must be at least {minimum} characters long")
    return raw or None


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _number(env, name, default, float, "a number of seconds", lambda value: 0 < value <= 60,
                   "more than 0 and at most 60 seconds")


def _number(
    env: Mapping[str, str],
    name: str,
    default: Any,
    parse: Callable[[str], Any],
    kind: str,
    accept: Callable[[Any], bool],
    requirement: str,
) -> Any:
    """The variable read with ``parse``; its default when unset; ConfigError naming it when unreadable or refused."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ConfigError(f"{name} must be {kind}, not {raw!r}") from None
    if not accept(value):
        raise ConfigError(f"{name} must be {requirement}, not {raw}")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw in ("", "0", "false", "no"):
        return False
    if raw in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name} must be true or false, not {raw!r}")
