"""Random (version 4) UUIDs for cards and suggestions, drawn from the operating system's random source in blocks.

``uuid.uuid4()`` asks the operating system for 16 bytes on every call, and a system call lets go of the
interpreter: in a threaded server under load, the call then waits for another request's thread to give the
interpreter back, which adds milliseconds to an answer that needs several ids. Here one call fetches ids for
many answers. The ids are as random as ``uuid4``'s; a forked child starts with no block of its own, so two
processes never hand out the same id.
"""

from __future__ import annotations

import os
import uuid

BLOCK = 256
"""Ids fetched per system call."""

_pool: list[bytes] = []


def random_uuid() -> uuid.UUID:
    """A new version 4 UUID."""
    while True:
        try:
            raw = _pool.pop()  # atomic: two threads never take the same bytes
        except IndexError:
            block = os.urandom(16 * BLOCK)
            _pool.extend(block[start : start + 16] for start in range(0, len(block), 16))
            continue
        return uuid.UUID(bytes=raw, version=4)


os.register_at_fork(after_in_child=_pool.clear)
