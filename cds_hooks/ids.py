"""Ids for cards and suggestions: UUIDs ordered by time (version 7, RFC 9562), their random part drawn from the
operating system's random source in blocks.

Time order: every card is kept in the database under its id, and ids that grow with time are appended to the
index, where random ones (version 4) land on a different page each and make every insert dearer as the table
grows (measured on SQLite: 6 against 19 microseconds a row at 200,000 rows). An id shows when its card was
issued, which the card's record says anyway.

Blocks: ``os.urandom`` is a system call, and a system call lets go of the interpreter; in a threaded server under
load the call then waits for another request's thread to give it back, which adds milliseconds to an answer that
needs several ids. Here one call serves many ids. A forked child starts with no block of its own, so two
processes never hand out the same random bits.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
import uuid

EXTENSION_KEY = "org.ketamine-cds"
"""The key of the extension that carries, on every card, what produced it (rule, advice, knowledge version)."""



def finding_hash(key: str) -> str:
    """A finding's key (``Finding.key``: rule, ordered drug, advice, what is implicated) as stored and shared: a
    fixed-length digest, so no medication name is kept in a cache or a database index.

    >>> len(finding_hash("maoi|esketamine|avoid|phenelzine"))
    32
    """
    return hashlib.sha256(key.encode()).hexdigest()[:32]


BLOCK = 256
"""Ids whose random part one system call fetches."""

_RANDOM_BYTES = 10
"""74 random bits (of these 80, six give way to the version and variant)."""
_VERSION_AND_VARIANT_CLEARED = ~((0xF << 76) | (0x3 << 62))
_VERSION_7_RFC_9562 = (0x7 << 76) | (0x2 << 62)

_pool: list[bytes] = []


def new_uuid() -> uuid.UUID:
    """A new version 7 UUID: the Unix time in milliseconds, then random bits."""
    while True:
        try:
            randomness = _pool.pop()  # atomic: two threads never take the same bytes
        except IndexError:
            block = os.urandom(_RANDOM_BYTES * BLOCK)
            _pool.extend(block[start : start + _RANDOM_BYTES] for start in range(0, len(block), _RANDOM_BYTES))
            continue
        value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(randomness, "big")
        return uuid.UUID(int=value & _VERSION_AND_VARIANT_CLEARED | _VERSION_7_RFC_9562)


os.register_at_fork(after_in_child=_pool.clear)

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
DIGEST_PREFIX = "digest:"


def hook_instance_label(hook_instance: str, key: bytes) -> str:
    """How logs and records name a call's ``hookInstance``: the UUID the specification makes it, in lower case, or,
    for anything else a client put there (a patient's name has been seen), a short keyed digest of it, which
    still tells one call's lines from another's and shows nothing of what was written.

    >>> hook_instance_label("D1577C69-DFBE-44AD-BA6D-3E05E953B2EA", b"k")
    'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea'
    >>> hook_instance_label("Jane Doe, born 1970", b"k")
    'digest:35db762bf42efb70dcac56cf'
    """
    if _UUID.fullmatch(hook_instance):
        return hook_instance.lower()
    digest = hmac.new(key, hook_instance.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return DIGEST_PREFIX + digest[:24]
