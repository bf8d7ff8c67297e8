"""The WSGI entry point for production servers: ``gunicorn -c python:service.gunicorn_conf`` serves ``app``.

Settings come from the environment, as for ``ketamine-cds serve``; a bad setting or knowledge file stops the
worker at start-up with a message naming it.
"""

from service.app import create_app

app = create_app()
