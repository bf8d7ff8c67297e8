"""The Flask application: CDS Hooks discovery and order services over the framework-free core."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    """``create_app`` is imported on first use, so loading ``service.gunicorn_conf`` in gunicorn's master process
    does not import the app and its metrics before the multiprocess metrics folder is set up."""
    if name == "create_app":
        from service.app import create_app

        return create_app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
