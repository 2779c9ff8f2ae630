"""Session ids drawn from a buffer of random bytes (djira.session_ids)."""

from __future__ import annotations

import os
import re
import warnings

import engineio

from djira import session_ids
from djira.server import DjiraServer
from djira.session_ids import BATCH, RANDOM_BYTES, random_bytes


def test_ids_have_python_engineios_shape_and_never_repeat():
    server = DjiraServer()
    ours = [server.eio.generate_id() for _ in range(3 * BATCH)]
    theirs = engineio.AsyncServer().generate_id()
    assert len(set(ours)) == len(ours)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", sid) for sid in [*ours, theirs])
    # The last three bytes count, as python-engineio's do: ids made in a row differ there.
    assert ours[0][-4:] != ours[1][-4:]


def test_one_system_call_serves_a_batch_of_ids(monkeypatch):
    calls: list[int] = []
    real = os.urandom

    def counting(size: int) -> bytes:
        calls.append(size)
        return real(size)

    monkeypatch.setattr(session_ids.os, "urandom", counting)
    session_ids._forget()
    chunks = [random_bytes() for _ in range(2 * BATCH + 1)]
    assert calls == [RANDOM_BYTES * BATCH] * 3
    assert all(len(chunk) == RANDOM_BYTES for chunk in chunks)
    assert len(set(chunks)) == len(chunks)  # each byte handed out once


def test_a_forked_child_does_not_hand_out_its_parents_bytes():
    random_bytes()  # the buffer now holds bytes not yet handed out
    read, write = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads running
        pid = os.fork()
    if pid == 0:  # the child: its next bytes, then out without running pytest's teardown
        os.write(write, random_bytes())
        os._exit(0)
    os.close(write)
    childs = os.read(read, 64)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(childs) == RANDOM_BYTES
    assert childs != random_bytes()  # the parent's next bytes, which the child also held
