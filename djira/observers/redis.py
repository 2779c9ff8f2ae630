"""python-socketio's Redis managers, with faults logged clearly on the ``djira`` logger.

python-socketio already survives a Redis outage: a failed publish is retried once and
dropped, and the listener re-subscribes with a back-off (1 s, doubling up to 60 s). What it
logs is terse ("Cannot publish to redis... giving up") and hides the cause in ``extra``.
These subclasses say which Redis, why, what is lost, and when it is back.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio

logger = logging.getLogger("djira.redis")

LOST = (
    "pushes between processes are lost until it is back (sockets still get the pushes "
    "made in their own process)"
)


class FaultLogger(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """Rewrites python-socketio's Redis messages into one clear line each."""

    def __init__(self, url: str) -> None:
        super().__init__(logger, {})
        self.url = url

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        cause = (kwargs.pop("extra", None) or {}).get("redis_exception")
        if isinstance(msg, str) and msg.startswith("Cannot"):
            msg = f"Redis at {self.url} failed: {msg} ({cause or 'no detail'}); {LOST}."
        return msg, kwargs


class _Tracking:
    """Logs once when publishing starts failing and once when it works again."""

    redis_url: str
    down = False

    def _published(self, result: Any) -> Any:
        # python-socketio's ``_publish`` returns the receiver count, or None after giving up.
        if result is None and not self.down:
            self.down = True
        elif result is not None and self.down:
            self.down = False
            logger.warning(
                "Redis at %s is reachable again; pushes flow between processes.", self.redis_url
            )
        return result


class DjiraAsyncRedisManager(_Tracking, socketio.AsyncRedisManager):
    """``AsyncRedisManager`` for djira servers (``create_server`` uses it for ``REDIS_URL``)."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("logger", FaultLogger(url))
        super().__init__(url, **kwargs)

    async def _publish(self, data: Any) -> Any:
        return self._published(await super()._publish(data))


class DjiraRedisManager(_Tracking, socketio.RedisManager):
    """Write-only ``RedisManager`` for processes that serve no sockets."""

    def __init__(self, url: str, **kwargs: Any) -> None:
        kwargs.setdefault("logger", FaultLogger(url))
        super().__init__(url, **kwargs)

    def _publish(self, data: Any) -> Any:
        return self._published(super()._publish(data))
