"""``receiver``: ``django.dispatch.receiver`` whose handler can emit to sockets.

    @receiver(post_save, User, serializer=UserSerializer)
    def on_user_saved(instance, created, server, serializer, **kwargs):
        if created:
            server.emit("users", {"status": 201, "data": serializer(instance)})

``server.emit`` here is synchronous and needs no ``await``: the emit leaves after the
transaction commits (never on rollback), from whichever process saved, through the same
ordered outbox as observers' pushes, and reaches the sockets on every server process
sharing the Redis URL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import Any

from django.dispatch import Signal
from django.utils.inspect import func_accepts_kwargs

from djira.delivery import get_server, outbox

logger = logging.getLogger("djira")


class _Done:
    """What ``ServerProxy.emit`` returns: awaiting it is allowed and finishes at once."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield  # pragma: no cover - makes this a generator


class ServerProxy:
    """The ``server`` a ``receiver`` handler gets: the real server, with a sync ``emit``."""

    def __init__(self, server: Any = None, using: str | None = None) -> None:
        self._server = server
        self._using = using

    @property
    def server(self) -> Any:
        return self._server if self._server is not None else get_server()

    def emit(self, event: str, data: Any = None, **kwargs: Any) -> _Done:
        """python-socketio's ``emit``, synchronous, leaving after the transaction commits.

        Takes python-socketio's ``to``, ``room``, ``skip_sid``, ``namespace`` and
        ``ignore_queue`` (this process's sockets only); anything else, and ``callback``
        (nobody would be there to receive the acknowledgement after commit), is a
        ``TypeError`` from ``djira.delivery.outbox.emit``, the one emit path.
        """
        outbox.emit(event, data, server=self._server, using=self._using, **kwargs)
        return _Done()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.server, name)


def as_data_function(serializer: Any) -> Callable[[Any], Any] | None:
    """A function ``instance -> data`` from a function or a DRF serializer class."""
    if serializer is None:
        return None
    if isinstance(serializer, type) and hasattr(serializer, "to_representation"):
        return lambda instance: serializer(instance).data
    return serializer


def receiver(
    signal: Signal | list[Signal] | tuple[Signal, ...],
    sender: Any = None,
    *,
    serializer: Any = None,
    server: Any = None,
    dispatch_uid: str | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Connect the decorated function to ``signal`` (strongly) with ``server`` and ``serializer``.

    :param serializer: a function ``instance -> data`` or a DRF serializer class; the
        handler gets a function either way.
    :param server: the server to emit with; default ``SOCKET_INSTANCE``.

    An exception in the handler is logged and never reaches the code that sent the signal.
    """
    signals = list(signal) if isinstance(signal, list | tuple) else [signal]
    data_function = as_data_function(serializer)

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        if not func_accepts_kwargs(func):
            raise ValueError(f"Signal receiver {func.__qualname__} must accept **kwargs.")

        def handler(sender: Any, **kwargs: Any) -> None:
            try:
                proxy = ServerProxy(server, kwargs.get("using"))
                func(sender=sender, server=proxy, serializer=data_function, **kwargs)
            except Exception:
                logger.exception("djira receiver %s failed", func.__qualname__)

        uid = dispatch_uid or f"djira:{func.__module__}.{func.__qualname__}"
        for sig in signals:
            sig.connect(handler, sender=sender, weak=False, dispatch_uid=uid)
        return func

    return decorator
