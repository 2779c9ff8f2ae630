"""What the metrics read when Prometheus scrapes: queues' high-water marks, delivery's state.

Values that change on every push (how many messages wait for a socket, how far the
database backend's follower is behind the outbox) are not counted as they change, which
would cost the fan-out: the scrape view (djira.telemetry.views) reads them from this
process's servers and sets their gauges. Under several worker processes each worker's
values are those it read when it last answered a scrape (prometheus_client's
multiprocess mode keeps one value per live process: the gauges take their maximum, or
the minimum for ``djira_delivery_up``).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from djira.delivery import backend_kind
from djira.telemetry.metrics import get_metrics
from djira.telemetry.metrics import listeners as metrics_listeners

if TYPE_CHECKING:
    from djira.server import DjiraServer


def sample() -> None:
    """Set the gauges read at scrape time from this process's servers; in the scraping thread.

    The queues' high-water marks, and the delivery backend's health and lag: one database
    query (the outbox's head) for the database backend, attributes otherwise. The servers'
    state is read from another thread than their loop's: plain attributes, each read once.
    """
    listeners = list(metrics_listeners)
    if not listeners:
        return
    metrics = get_metrics()
    marks = [q.high_water for listener in listeners for q in listener.queues()]
    metrics.queue_high_water_open.set(max(marks, default=0))
    kind = backend_kind()
    head = _outbox_head() if kind == "database" else None
    found = (delivery_state(kind, listener.consumer.sio, head) for listener in listeners)
    states = [state for state in found if state is not None]
    if not states:
        return
    metrics.delivery_up.labels(kind).set(min(int(up) for up, _ in states))
    lags = [lag for _, lag in states if lag is not None]
    if lags:
        metrics.delivery_lag.labels(kind).set(max(lags))


def _outbox_head() -> int | None:
    """The outbox's last global ``seq``, or ``None`` when the database cannot say."""
    from djira.delivery import database  # a backend's module: imported when it is the one

    with contextlib.suppress(Exception):
        return database.head()[1]
    return None


def delivery_state(
    kind: str, server: DjiraServer, head: int | None
) -> tuple[bool, int | None] | None:
    """``(up, lag)`` of ``server``'s delivery, ``None`` before it delivered anything.

    The database backend's follower is up while its reads succeed and lags by the rows
    between ``head`` (the table's) and the last it delivered; the Redis link is up while its
    ``Health`` says so and lags by the messages waiting to be published. The memory backend
    delivers in the process: always up, never behind.
    """
    state = server.delivery
    if kind == "database":
        follower = state.follower
        if follower is None:
            return None
        delivered = follower.delivered
        if head is None:
            return False, None
        lag = max(0, head - delivered) if delivered is not None else None
        return not follower.failing, lag
    if kind == "redis":
        link = state.link
        if link is None:
            return None
        return link.health.down_since is None, len(link.pending)
    return True, 0
