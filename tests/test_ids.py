"""Card and suggestion ids: version 7 UUIDs in time order, never repeated, not even across forked workers."""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from cds_hooks import ids


def test_ids_are_version_7_uuids_and_all_differ_across_many_blocks():
    drawn = [ids.new_uuid() for _ in range(ids.BLOCK * 3 + 7)]
    assert {value.version for value in drawn} == {7}
    assert {value.variant for value in drawn} == {uuid.RFC_4122}
    assert len(set(drawn)) == len(drawn)


def test_ids_carry_the_time_they_were_made_so_later_ids_sort_after():
    before = time.time_ns() // 1_000_000
    first = ids.new_uuid()
    time.sleep(0.002)
    second = ids.new_uuid()
    after = time.time_ns() // 1_000_000
    assert before <= first.int >> 80 <= second.int >> 80 <= after
    assert str(first) < str(second)


def test_threads_drawing_at_once_never_share_an_id():
    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(lambda _: [ids.new_uuid() for _ in range(500)], range(8)))
    drawn = [value for batch in batches for value in batch]
    assert len(set(drawn)) == len(drawn)


_FROM_THE_POOL = ((1 << 80) - 1) & ~((0xF << 76) | (0x3 << 62))
"""The 74 bits of an id drawn from the random pool: the low 80 bits less the version and variant bits."""


def random_part(value: uuid.UUID) -> int:
    """What an id took from the random pool, without its millisecond time, which alone can tell two ids apart."""
    return value.int & _FROM_THE_POOL


def test_a_forked_child_does_not_hand_out_its_parents_ids():
    ids._pool.clear()
    ids.new_uuid()  # the parent now holds a block of ids it has not handed out, whatever earlier tests drew
    assert len(ids._pool) == ids.BLOCK - 1
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        os.close(read)
        os.write(write, "".join(str(ids.new_uuid()) for _ in range(5)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(child, 0)
    in_child = {random_part(uuid.UUID(text[start : start + 36])) for start in range(0, len(text), 36)}
    in_parent = {random_part(ids.new_uuid()) for _ in range(ids.BLOCK)}
    assert len(in_child) == 5
    assert not in_child & in_parent
