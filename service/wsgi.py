"""The WSGI entry point for production servers: ``gunicorn -c python:service.gunicorn_conf`` serves ``app``.

Settings come from the environment, as for ``ketamine-cds serve``; a bad setting or knowledge file stops
start-up with a message naming it (gunicorn imports this module once, in its master, before forking workers).
"""

import gc

from flask import Flask


def _built() -> Flask:
    """The app, built with the cyclic garbage collector paused: the imports and the knowledge base make a large
    heap in many small steps, and the collector walked it some 30 times while they did (about a tenth of the
    start-up time)."""
    gc.disable()
    try:
        from service.app import create_app

        return create_app()
    finally:
        gc.enable()


app = _built()

# The knowledge base and code tables are a large, long-lived heap. Left to the collector, every full collection
# walks all of it, which shows as pauses of tens of milliseconds in the slowest answers; frozen, they are never
# walked again (they live as long as the worker), and the forked workers do not copy the pages a collection
# would write to. What is already garbage is collected first, not frozen: some 55,000 of the 205,000 objects
# the build leaves.
gc.collect()
gc.freeze()
