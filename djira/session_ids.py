"""Session ids for python-engineio and python-socketio, without a system call per id.

python-engineio makes each id from ``secrets.token_bytes(12)`` (``os.urandom``) and a 3-byte
sequence number, and a Socket.IO connect takes two (the Engine.IO session's and the
namespace's). ``os.urandom`` releases the GIL around its ``getrandom`` call; the event
loop's thread then waits to take the GIL back from busy worker threads, up to the
interpreter's switch interval. Profiled under the soak (bench/README.md), those waits were
about a quarter of the event loop's time.

Here the 12 random bytes come from a buffer that one ``os.urandom`` call fills for
``BATCH`` ids: the same source and the same number of random bytes per id, so the ids are as
hard to guess. A forked child drops the buffer it inherited, so no two processes hand out
the same bytes.
"""

from __future__ import annotations

import base64
import os
import threading
from typing import Any

RANDOM_BYTES = 12
BATCH = 256

_lock = threading.Lock()
_buffer = b""
_offset = 0


def _forget() -> None:
    # In a forked child: another thread of the parent may have held the lock at the fork,
    # and that thread does not exist here to release it.
    global _buffer, _offset, _lock
    _buffer, _offset, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_forget)


def random_bytes() -> bytes:
    """``RANDOM_BYTES`` fresh bytes from the kernel's generator, each handed out once."""
    global _buffer, _offset
    with _lock:
        if _offset + RANDOM_BYTES > len(_buffer):
            _buffer, _offset = os.urandom(RANDOM_BYTES * BATCH), 0
        start = _offset
        _offset += RANDOM_BYTES
        return _buffer[start:_offset]


def session_id(server: Any) -> str:
    """An id shaped as python-engineio's ``generate_id`` makes it (20 URL-safe characters),
    counting with the Engine.IO ``server``'s own sequence number."""
    sequence = server.sequence_number
    server.sequence_number = (sequence + 1) & 0xFFFFFF
    raw = base64.b64encode(random_bytes() + sequence.to_bytes(3, "big"))
    return raw.decode("ascii").replace("/", "_").replace("+", "-")
