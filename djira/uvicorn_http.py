"""uvicorn's HTTP protocol, without the reference cycle it leaves behind each websocket.

    uvicorn mysite.asgi:application --http djira.uvicorn_http:HttpToolsProtocol

uvicorn's httptools protocol and its parser point at each other (the parser calls the
protocol back). uvicorn breaks that cycle when the connection is lost (``connection_lost``
sets ``parser`` to ``None``), but a connection upgraded to a websocket is never lost for
the HTTP protocol: from the upgrade on, the transport belongs to the websocket's protocol.
So each websocket left its HTTP protocol, its parser and what they hold (the transport
among them, and through it the websocket's whole state once closed) for the garbage
collector: some thirty objects in cycles per connection, and every closed connection kept
until a collection ran. Under connection churn those were what started most of the
server's young collections, each a pause for every connection (bench/soak.py).

``HttpToolsProtocol`` is uvicorn's, with the cycle broken right after the upgrade, when
the HTTP protocol has handed the connection over and reads nothing more. Without httptools
installed it is uvicorn's h11 protocol, which leaves no such cycle. djira's ``runserver``
uses it; any other server picks it with uvicorn's ``--http`` option (an import string,
uvicorn 0.36 or later) or ``uvicorn.Config(http=...)``.
"""

from __future__ import annotations

import asyncio

__all__ = ["HttpToolsProtocol"]

HttpToolsProtocol: type[asyncio.Protocol]

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpToolsProtocol
except ImportError:  # no httptools: uvicorn's h11 protocol leaves no cycle
    from uvicorn.protocols.http.h11_impl import H11Protocol

    HttpToolsProtocol = H11Protocol
else:

    class _UpgradedHttpToolsProtocol(_HttpToolsProtocol):
        """uvicorn's httptools protocol, which lets go of its parser once upgraded."""

        def handle_websocket_upgrade(self) -> None:
            super().handle_websocket_upgrade()
            # The websocket's protocol serves the connection from here on; this one is
            # called no more (``connection_lost`` goes to the websocket's). Drop the parser
            # as uvicorn's ``connection_lost`` would, so that refcounting frees both.
            self.parser = None  # type: ignore[assignment]

    HttpToolsProtocol = _UpgradedHttpToolsProtocol
