"""``AdminLiveHook``: the socket side of live admin pages, on the event ``djira-admin-live``.

Routes (``data: {"model": "<app_label>.<model_name>"}`` on each):

- ``changelist`` (``SUBSCRIPTION``): the rooms of the model's changes this user may see, as
  the admin decides (``has_view_permission``, ``get_live_subscribing_rooms``);
- ``object`` (``SUBSCRIPTION``, ``pk``): the row's own room, if the admin's ``get_queryset``
  holds the row for this user and ``has_view_permission(request, obj)`` allows it;
- ``presence`` (``GET``, ``pk``): who else has the row open, with the same check;
- ``watching`` (``GET``): a page of the model is still open (its script asks every
  ``RENEW`` seconds), so the model's saves keep pushing (djira.admin.live.watching).

Pushes carry only ``{"pk": ...}``; pages fetch what they show through the admin's own views
(djira.admin.live.rows), under the user's session, so nothing rendered travels to a user
the changelist would not render it for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from djira.admin.live.access import admin_of, renew
from djira.admin.live.registry import get_observer
from djira.base import APIHook
from djira.decorators import action
from djira.observers import BoundObserver
from djira.sync import run_sync

if TYPE_CHECKING:
    from djira.scope import Scope

EVENT = "djira-admin-live"


class AdminLiveHook(APIHook):
    """Subscriptions and presence of the admin's live changelists and change forms."""

    event = EVENT
    permission_classes: Any = []  # each route asks the model's admin (subscribing_rooms)

    def bound(self) -> BoundObserver:
        found = get_observer(admin_of(self.scope).model)
        assert found is not None  # every live admin has its observer (make_live)
        return found.__get__(self)

    @action(actions=["SUBSCRIPTION"])  # type: ignore[untyped-decorator]
    async def changelist(self, scope: Scope) -> None:
        """Follow the changes of the rows a changelist may show this user."""
        await self.bound().subscription(scope)

    @action(actions=["SUBSCRIPTION"])  # type: ignore[untyped-decorator]
    async def object(self, scope: Scope) -> None:
        """Follow one row (saves, delete) and who else has it open."""
        await self.bound().subscription(scope)

    @action(actions=["GET"])  # type: ignore[untyped-decorator]
    async def presence(self, scope: Scope) -> list[dict[str, Any]]:
        """Who has the row ``pk`` open: one entry, as ``observers.md`` describes."""
        return await self.bound().presence_of(scope)

    @action(actions=["GET"])  # type: ignore[untyped-decorator]
    async def watching(self, scope: Scope) -> dict[str, Any]:
        """Renew the model's flag: a page of it is still open."""
        await run_sync(renew, scope)
        return {}
