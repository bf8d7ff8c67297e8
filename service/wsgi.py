"""The WSGI entry point for production servers: ``gunicorn -c python:service.gunicorn_conf`` serves ``app``.

Settings come from the environment, as for ``ketamine-cds serve``; a bad setting or knowledge file stops the
worker at start-up with a message naming it.
"""

import gc

from service.app import create_app

app = create_app()

# The knowledge base and code tables are a large, long-lived heap. Left to the collector, every full collection
# walks all of it, which shows as pauses of tens of milliseconds in the slowest answers; frozen, they are never
# walked again (they live as long as the worker).
gc.collect()
gc.freeze()
