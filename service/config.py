"""Settings from environment variables, read once at start-up into a frozen object.

A missing or invalid setting stops start-up with a message naming the variable. Every variable is listed, with
its default, in the README's configuration table.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(ValueError):
    """A setting is invalid; the message names the environment variable."""


@dataclass(frozen=True)
class Settings:
    max_request_bytes: int = 5 * 1024 * 1024
    knowledge_dir: Path | None = None
    knowledge_overrides: Path | None = None
    log_level: str = "INFO"
    rxnav_url: str | None = None
    rxnav_timeout: float = 2.0
    rxnav_cache_size: int = 10_000
    rxnav_cache_ttl: int = 86_400

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            max_request_bytes=_int(env, "CDS_MAX_REQUEST_BYTES", cls.max_request_bytes, minimum=1024),
            knowledge_dir=_path(env, "CDS_KNOWLEDGE_DIR", must_be_dir=True),
            knowledge_overrides=_path(env, "CDS_KNOWLEDGE_OVERRIDES"),
            log_level=_choice(env, "CDS_LOG_LEVEL", cls.log_level, ("DEBUG", "INFO", "WARNING", "ERROR")),
            rxnav_url=_url(env, "CDS_RXNAV_URL"),
            rxnav_timeout=_seconds(env, "CDS_RXNAV_TIMEOUT", cls.rxnav_timeout),
            rxnav_cache_size=_int(env, "CDS_RXNAV_CACHE_SIZE", cls.rxnav_cache_size, minimum=1),
            rxnav_cache_ttl=_int(env, "CDS_RXNAV_CACHE_TTL", cls.rxnav_cache_ttl, minimum=1),
        )


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value


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


def _url(env: Mapping[str, str], name: str) -> str | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http or https URL, not {raw!r}")
    return raw


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not 0 < value <= 60:
        raise ConfigError(f"{name} must be more than 0 and at most 60 seconds, not {raw}")
    return value
