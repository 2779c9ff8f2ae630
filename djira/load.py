"""How busy the process is: the share of one core its threads used lately.

A Socket.IO server's event loop and worker threads share one interpreter, so once the
process uses about a whole core every connection's frames wait their turn on the loop. What
a flooding client costs is then taken from everyone's latency, although its requests are
valid work: djira.handler.pace reads a flooding connection more slowly while the process is
busy and other connections are being served (docs/security.md, "Limits").
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: The process counts as busy from this share of one core (user + system, every thread).
BUSY = 0.85
#: Seconds between two readings of the process's CPU time (one system call each).
INTERVAL = 0.25


class ProcessLoad:
    """The process's CPU share between its last two readings, read lazily when asked.

    Not per connection, and read only while some connection floods: one ``process_time``
    call per ``INTERVAL`` at most.
    """

    def __init__(
        self,
        cpu: Callable[[], float] = time.process_time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cpu, self._clock = cpu, clock
        self._read_at, self._cpu_at = clock(), cpu()
        self.share = 0.0

    def busy(self) -> bool:
        """Whether the process used at least ``BUSY`` of a core since the reading before."""
        now = self._clock()
        elapsed = now - self._read_at
        if elapsed >= INTERVAL:
            used = self._cpu()
            self.share = (used - self._cpu_at) / elapsed
            self._read_at, self._cpu_at = now, used
        return self.share >= BUSY


#: The process's load (CPU time is the process's, whatever the servers in it).
process_load = ProcessLoad()
