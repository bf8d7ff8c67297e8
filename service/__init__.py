"""The Flask application: CDS Hooks discovery and order services over the framework-free core."""

from service.app import create_app

__all__ = ["create_app"]
