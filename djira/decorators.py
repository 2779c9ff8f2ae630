"""``@action``: mark a hook method as a route (a *namespace*) accepting some verbs."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from djira.types import ACTIONS

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Route:
    """A namespace of a hook: which method serves it and which verbs it accepts."""

    name: str
    attr: str
    actions: tuple[str, ...]
    is_async: bool
    takes_scope: bool
    kwargs: dict[str, Any] = field(default_factory=dict)


def normalize_actions(actions: Iterable[str], where: str) -> tuple[str, ...]:
    verbs = tuple(dict.fromkeys(str(a).upper() for a in actions))
    unknown = [v for v in verbs if v not in ACTIONS]
    if unknown:
        raise ValueError(f"{where}: unknown action(s) {unknown}; choose from {list(ACTIONS)}.")
    if "SUBSCRIPTION" in verbs and "UNSUBSCRIPTION" not in verbs:
        # Leaving is always allowed where joining is (Channels' group_discard).
        verbs += ("UNSUBSCRIPTION",)
    return verbs


def action(
    func: F | None = None,
    *,
    actions: Iterable[str] | None = None,
    methods: Iterable[str] | None = None,
    namespace: str | None = None,
    **kwargs: Any,
) -> Any:
    """Expose a hook method as a namespace.

    :param actions: verbs the route accepts (``GET``, ``POST``, ..., ``SUBSCRIPTION``);
        default ``["GET"]``. ``methods`` is an alias, as in DRF. ``SUBSCRIPTION`` implies
        ``UNSUBSCRIPTION``.
    :param namespace: the name clients send; defaults to the method's name.
    :param kwargs: extra attributes set on the hook for this route (e.g.
        ``permission_classes=[...]``, ``serializer_class=...``), as DRF's ``@action`` does.

    The body may be sync (run in a worker thread, where the ORM is allowed) or a coroutine,
    and takes ``(self)`` or ``(self, scope)``.
    """

    def decorator(fn: F) -> F:
        where = f"@action on {fn.__qualname__}"
        verbs = normalize_actions(actions or methods or ["GET"], where)
        params = [p for p in inspect.signature(fn).parameters.values() if p.kind != p.VAR_KEYWORD]
        fn.djira_route = Route(  # type: ignore[attr-defined]
            name=namespace or fn.__name__,
            attr=fn.__name__,
            actions=verbs,
            is_async=inspect.iscoroutinefunction(fn),
            takes_scope=len(params) > 1,
            kwargs=kwargs,
        )
        return fn

    if func is not None:
        return decorator(func)
    return decorator


def __getattr__(name: str) -> Any:
    # ``from djira.decorators import observer`` as in the original djira README, without
    # importing the observers package (and its signal machinery) for every user of ``@action``.
    if name in {"observer", "model_observer"}:
        import importlib

        observers = importlib.import_module("djira.observers")

        return getattr(observers, name)
    raise AttributeError(name)
