"""A room's pushes reach a server's sockets once and in offset order on the redis backend,
also when another process's push arrives after the one numbered next (``Seen``)."""

from __future__ import annotations

from djira.delivery.messages import Push
from djira.delivery.redis import Seen


def push(offset: int) -> Push:
    return Push("app.Obs.obs", "room", "update", {"n": offset})._replace(epoch="e", offset=offset)


def offsets(pushes: list[Push]) -> list[int | None]:
    return [p.offset for p in pushes]


def test_a_push_ahead_of_a_gap_waits_for_it():
    seen = Seen("e", 4)
    assert seen.take(push(6)) == []  # 5 was numbered first, by another process
    assert seen.gap_since is not None
    assert offsets(seen.take(push(5))) == [5, 6]
    assert seen.held == {} and seen.gap_since is None and seen.top == 6


def test_each_offset_is_delivered_once():
    seen = Seen("e", 4)
    assert offsets(seen.take(push(5))) == [5]
    assert seen.take(push(5)) == []  # the log is read at least once
    assert seen.take(push(3)) == []
    assert seen.take(push(7)) == [] and seen.take(push(7)) == []
    assert offsets(seen.take(push(6))) == [6, 7]


def test_giving_up_skips_only_what_is_missing():
    seen = Seen("e", 1)
    for n in (4, 3, 7):
        assert seen.take(push(n)) == []
    assert offsets(seen.give_up()) == [3, 4]  # 2 is lost; 7 still waits for 5 and 6
    assert seen.top == 4 and list(seen.held) == [7] and seen.gap_since is not None
    assert offsets(seen.give_up()) == [7]
    assert seen.gap_since is None
