"""Who subscribed to what, on this process: joining and leaving a subscription's rooms.

Rooms and addresses are named in ``djira.delivery.local``. Each subscription is also kept in
the socket's session under a digest of its parameters (observer, hook name, route, ``pk``,
``query``, ``data``), so ``UNSUBSCRIPTION`` with the same parameters leaves exactly its rooms,
except those another subscription of the socket still holds: two subscriptions on one route
(two primary keys, two filters) never silence each other.

What a socket keeps is bounded: at most ``MAX_SUBSCRIPTIONS`` subscriptions (past it,
subscribing answers 429), each under a 32-character digest whatever the size of its
parameters, with the rooms it joined.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from djira import exceptions
from djira.delivery import presence
from djira.delivery.local import get_addresses, sio_room

if TYPE_CHECKING:
    from djira.scope import Scope
    from djira.server import DjiraServer

SESSION_KEY = "djira.subscriptions"


def subscription_key(observer: str, scope: Scope) -> str:
    """What identifies a subscription on its socket: a digest of the request's parameters.

    128 bits of BLAKE2b: the same parameters give the same key, and a socket keeps 32
    characters per subscription however large its ``data`` or ``query``.
    """
    query = getattr(scope, "_raw_query", None)
    params = [observer, scope.event, scope.namespace, scope.pk, query or None, scope.data]
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def max_subscriptions() -> int | None:
    from djira.settings import jira_settings

    limit = jira_settings.MAX_SUBSCRIPTIONS
    return None if limit is None else int(limit)


def _is_bare(scope: Scope) -> bool:
    return scope.pk is None and not getattr(scope, "_raw_query", None) and scope.data is None


async def join(server: DjiraServer, scope: Scope, observer: str, rooms: list[str]) -> None:
    """Subscribe ``scope``'s socket to ``rooms`` of ``observer``. A coroutine."""
    get_addresses(server).add(observer, scope.event, scope.namespace)
    key = subscription_key(observer, scope)
    names = [sio_room(scope.event, scope.namespace, observer, room) for room in rooms]
    limit = max_subscriptions()
    # get_session/save_session rather than ``server.session()``, whose context manager is a
    # class made anew at each call: a reference cycle left to the garbage collector.
    session = await server.get_session(scope.sid)
    held = session.setdefault(SESSION_KEY, {})
    if key not in held and limit is not None and len(held) >= limit:
        raise exceptions.TooManySubscriptions(limit)
    entry = held.setdefault(key, {"observer": observer, "route": None, "rooms": {}})
    entry["route"] = [scope.event, scope.namespace]
    entry["rooms"].update(zip(names, rooms, strict=True))
    await server.save_session(scope.sid, session)
    for name in names:
        await server.enter_room(scope.sid, name)
    # Once in the rooms, so a join push reaches the joiner too.
    await presence.joined(server, scope.sid, scope.user, [(observer, room) for room in rooms])


async def leave(server: DjiraServer, scope: Scope, observer: str) -> list[str]:
    """Unsubscribe ``scope``'s subscription; return the user-level rooms left. A coroutine.

    Without ``pk``, ``query`` or ``data``, and no subscription of that exact shape, every
    subscription of the socket to ``observer`` through this route is left.
    """
    key = subscription_key(observer, scope)
    route = [scope.event, scope.namespace]
    session = await server.get_session(scope.sid)  # not server.session(): see join()
    held: dict[str, Any] = session.get(SESSION_KEY, {})
    if key in held:
        gone = [held.pop(key)]
    elif _is_bare(scope):
        keys = [k for k, e in held.items() if e["observer"] == observer and e["route"] == route]
        gone = [held.pop(k) for k in keys]
    else:
        gone = []
    still = {name for entry in held.values() for name in entry["rooms"]}
    # Presence is per (observer, room), whichever hook name or route holds it.
    present = {(e["observer"], r) for e in held.values() for r in e["rooms"].values()}
    await server.save_session(scope.sid, session)
    left: dict[str, str] = {}
    for entry in gone:
        left.update(entry["rooms"])
    for name in left:
        if name not in still:
            await server.leave_room(scope.sid, name)
    rooms = list(dict.fromkeys(left.values()))
    await presence.left(
        server, scope.sid, [(observer, r) for r in rooms if (observer, r) not in present]
    )
    return rooms
