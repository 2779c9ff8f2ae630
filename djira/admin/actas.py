"""Act as a user in the inspector: a superuser's socket that runs as another user.

Off unless ``DJIRA_SETTINGS["INSPECTOR_ACT_AS"]`` is true, and then only when
``ActAsAuthentication`` comes first in ``AUTHENTICATION_CLASSES`` (check ``djira.W102``
says so otherwise). The core knows nothing of it: this is one authentication class and one
lifecycle listener.

- ``ActAsAuthentication`` reads ``{"actAs": <user pk>}`` from the handshake's ``auth``. The
  acting user is the session's (the console's page); anyone but an active superuser is
  refused (403), whatever else the handshake says. The connection's user is then the target,
  loaded from the database as an authentication class loads a user, so its permissions,
  throttles (keyed by its pk) and ``can_connect`` apply exactly as to its own sockets; the
  connection's ``auth`` is an ``ActingAs`` saying who acts.
- ``ActAsAudit`` writes one admin ``LogEntry`` per request (and one per connection) made on
  such a socket: the superuser, the user acted as, the request and its status, in its own
  wording ("Inspector request as bob: tasks POST -> 201") and with its own action flag, not
  as a change of anything. The write runs on a worker thread (``djira.sync.run_sync``), never
  on the event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rest_framework.exceptions import AuthenticationFailed

from djira.authentication import BaseAuthentication, SessionAuthentication, UserAuth
from djira.settings import jira_settings

if TYPE_CHECKING:
    from djira.scope import Scope

logger = logging.getLogger("djira")

#: The handshake ``auth`` key naming the user to act as (their primary key).
ACT_AS_KEY = "actAs"


@dataclass(frozen=True, slots=True)
class ActingAs:
    """``scope.auth`` of a connection a superuser opened as another user."""

    actor_id: Any
    actor: str
    user_id: Any
    user: str


def refused(message: str) -> Exception:
    from djira.consumer import refuse

    return refuse(message, 403)


class ActAsAuthentication(BaseAuthentication):
    """``{"actAs": pk}`` in the handshake: a session superuser connects as user ``pk``.

    Without ``actAs`` it steps aside (``None``) for the next class. Put it first in
    ``AUTHENTICATION_CLASSES``: a class before it would authenticate the superuser as
    themself.
    """

    def authenticate(self, scope: Scope) -> UserAuth | None:
        auth = scope.handshake_auth
        if not isinstance(auth, dict) or ACT_AS_KEY not in auth:
            return None
        if not jira_settings.INSPECTOR_ACT_AS:
            raise refused("Acting as another user is off (DJIRA_SETTINGS['INSPECTOR_ACT_AS']).")
        session = SessionAuthentication().authenticate(scope)
        actor = session[0] if session is not None else None
        if actor is None or not (actor.is_active and actor.is_superuser):
            logger.warning(
                "djira: refused acting as user %r for %s (not a superuser's session)",
                auth[ACT_AS_KEY],
                actor.get_username() if actor is not None else "an anonymous connection",
            )
            raise refused("Only a superuser may act as another user.")
        target = load_user(auth[ACT_AS_KEY])
        return target, ActingAs(actor.pk, actor.get_username(), target.pk, target.get_username())


def load_user(pk: Any) -> Any:
    """The active user ``pk``, loaded as an authentication class loads one."""
    from django.contrib.auth import get_user_model

    if not isinstance(pk, str | int) or isinstance(pk, bool):
        raise AuthenticationFailed("actAs must be a user's primary key.")
    model = get_user_model()
    try:
        user = model._default_manager.get(pk=pk)
    except (model.DoesNotExist, ValueError, TypeError):
        raise AuthenticationFailed("No such user to act as.") from None
    if not user.is_active:
        raise AuthenticationFailed("User inactive or deleted.")
    return user


#: ``LogEntry.action_flag`` of an act-as entry. Django's flags are 1 to 3 (addition, change,
#: deletion); the admin's "Recent actions" then shows it without their icons, as what it is.
ACT_AS_FLAG = 4


def write_log_entry(acting: ActingAs, summary: str, message: str) -> None:
    """One admin ``LogEntry``: ``acting.actor`` acted as ``acting.user``.

    :param summary: what "Recent actions" shows, e.g. "Inspector request as bob: tasks POST".
    :param message: the request and its status, kept in ``change_message`` with who was acted
        as (their pk too); the entry's object is the inspector, its id the user's pk.
    """
    from django.contrib.admin.models import LogEntry
    from django.contrib.contenttypes.models import ContentType
    from django.db import IntegrityError

    from djira import models

    def create() -> None:
        LogEntry.objects.create(
            user_id=acting.actor_id,
            content_type=ContentType.objects.get_for_model(
                models.Inspector, for_concrete_model=False
            ),
            object_id=str(acting.user_id),
            object_repr=summary[:200],
            action_flag=ACT_AS_FLAG,
            change_message=f"Acted as {acting.user} (pk {acting.user_id}): {message}",
        )

    try:
        create()
    except IntegrityError:
        # ContentType ids are cached per process; a content type recreated since (a flush,
        # ``remove_stale_contenttypes``) makes the cached one dangle. Look it up again once.
        ContentType.objects.clear_cache()
        create()


def describe(scope: Scope, status: int) -> str:
    parts = [scope.event, scope.namespace or "", scope.action or ""]
    if scope.pk is not None:
        parts.append(f"pk={scope.pk}")
    return " ".join(p for p in parts if p) + f" -> {status}"


class ActAsAudit:
    """A lifecycle listener (djira.lifecycle): audits every request of an acting socket."""

    def __init__(self) -> None:
        # Strong references: the loop keeps only weak ones to tasks.
        self.tasks: set[asyncio.Task[None]] = set()

    def connected(self, scope: Scope) -> None:
        if type(scope.auth) is ActingAs:
            acting = scope.auth
            self._log(
                acting,
                f"Inspector connected as {acting.user}",
                f"connected (session {scope.sid})",
            )

    def disconnected(self, sid: str, reason: Any) -> None:
        pass

    def request(self, scope: Scope, reply: Mapping[str, Any], duration: float) -> None:
        if type(scope.auth) is ActingAs:
            message = describe(scope, int(reply["status"]))
            self._log(scope.auth, f"Inspector request as {scope.auth.user}: {message}", message)

    def pushed(self, event: str, room: str, payload: dict[str, Any]) -> None:
        pass

    def _log(self, acting: ActingAs, summary: str, message: str) -> None:
        from djira.sync import run_sync

        async def write() -> None:
            try:
                await run_sync(write_log_entry, acting, summary, message)
            except Exception:
                logger.exception("djira: cannot write the act-as LogEntry (%s)", message)

        # A fresh context: the write is not part of the request's trace.
        task = asyncio.get_running_loop().create_task(write(), context=contextvars.Context())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
