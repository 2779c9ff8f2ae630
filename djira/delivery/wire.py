"""A websocket frame encoded once, written straight to each connection's transport.

A push to a room is the same bytes for every member: a server's websocket frames are not
masked, so the Engine.IO text of a push makes one frame that every connection can send as
it is. The ASGI path would instead build a ``websocket.send`` event per socket and have the
websocket server frame it again (python-engineio's writer task, then uvicorn's ``send``):
most of a recipient's cost in a fan-out (docs/performance.md). A socket's own messages (a
request's reply) take the same way when nothing waits for it (``DjiraSocket.send``).

``Wire`` is what a socket needs for that: the transport of the ASGI server's connection,
found through the ``send`` callable uvicorn gives the application (a bound method of its
websocket protocol), and a test of whether that connection is still open for data frames.
Only uvicorn's three websocket implementations are recognised; anything else (another
server, a middleware that wraps ``send``) gets no ``Wire``, and its sockets are served by
their queue as before. Frames written this way are never compressed: permessage-deflate
lets a sender leave any message uncompressed (RFC 7692, section 6), and an uncompressed
message leaves both sides' compression contexts as they were.

The caller decides when a direct write keeps the socket's order: only while nothing waits
for it (its queue is empty and its writer is idle) and the transport has nothing buffered
(the kernel took everything so far), so what a slow reader leaves unread still piles up in
the bounded queue (djira.delivery.queues), never in the transport.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

_Open = Callable[[Any], bool]


def text_frame(text: str) -> bytes:
    """One final, unmasked text frame (RFC 6455, 5.2) carrying ``text``."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def _sansio_open(protocol: Any) -> bool:
    # uvicorn's websockets-sansio (its default with websockets >= 14).
    return bool(
        protocol.handshake_complete
        and protocol.initial_response is None
        and not protocol.close_sent
        and not protocol.disconnected
    )


def _wsproto_open(protocol: Any) -> bool:
    return bool(
        protocol.handshake_complete and not protocol.close_sent and not protocol.response_started
    )


def _legacy_open(protocol: Any) -> bool:
    # uvicorn's "websockets" implementation: the legacy websockets protocol class.
    return bool(
        protocol.handshake_completed_event.is_set()
        and protocol.initial_response is None
        and not protocol.closed_event.is_set()
        and protocol.state.name == "OPEN"
    )


#: uvicorn's websocket protocol classes, by module and name (none is imported here).
_KNOWN: dict[tuple[str, str], _Open] = {
    ("uvicorn.protocols.websockets.websockets_sansio_impl", "WebSocketsSansIOProtocol"): (
        _sansio_open
    ),
    ("uvicorn.protocols.websockets.wsproto_impl", "WSProtocol"): _wsproto_open,
    ("uvicorn.protocols.websockets.websockets_impl", "WebSocketProtocol"): _legacy_open,
}


class Wire:
    """The transport under one websocket connection, for frames written as they are."""

    __slots__ = ("_is_open", "protocol", "transport")

    def __init__(self, protocol: Any, is_open: _Open) -> None:
        self.protocol = protocol
        self.transport = protocol.transport
        self._is_open = is_open

    def writable(self) -> bool:
        """Open for data frames, with nothing buffered in the transport."""
        transport = self.transport
        return (
            not transport.is_closing()
            and not transport.get_write_buffer_size()
            and self._is_open(self.protocol)
        )


def wire_for(asgi_send: Any) -> Wire | None:
    """The ``Wire`` under an ASGI websocket's ``send``, or ``None`` if it is not uvicorn's."""
    protocol = getattr(asgi_send, "__self__", None)
    if protocol is None:
        return None
    for klass in type(protocol).__mro__:
        is_open = _KNOWN.get((klass.__module__, klass.__qualname__))
        if is_open is not None:
            return Wire(protocol, is_open) if protocol.transport is not None else None
    return None
