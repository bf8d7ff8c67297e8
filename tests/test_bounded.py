"""The remembered-answers table keeps its bound, oldest out, even when many threads add at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from cds_hooks.bounded import BoundedMemo


def test_the_oldest_entries_go_first_once_the_bound_is_reached():
    memo: BoundedMemo[int, str] = BoundedMemo(3)
    for number in range(5):
        memo.put(number, f"answer {number}")
    assert len(memo) == 3
    assert [number in memo for number in range(5)] == [False, False, True, True, True]
    assert memo.get(4) == "answer 4"
    assert memo.get(0, "gone") == "gone"


def test_threads_adding_at_once_never_push_it_past_its_bound():
    memo: BoundedMemo[tuple[int, int], int] = BoundedMemo(50)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda worker: [memo.put((worker, n), n) for n in range(2000)], range(8)))
    assert len(memo) == 50


def test_a_key_that_cannot_be_hashed_is_refused_as_a_dict_refuses_it():
    with pytest.raises(TypeError):
        BoundedMemo(3).get(({"text": "x"},))
