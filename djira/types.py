"""Wire payloads of the djira contract (see docs/protocol.md)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

Action = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "SUBSCRIPTION", "UNSUBSCRIPTION"]
ACTIONS: tuple[str, ...] = (
    "GET",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "SUBSCRIPTION",
    "UNSUBSCRIPTION",
)
#: ``join``/``leave``: presence pushes (observers with ``presence=True``).
PushType = Literal["create", "update", "delete", "join", "leave"]


class RequestPayload(TypedDict, total=False):
    """What a client emits on a hook name."""

    namespace: str
    action: Action
    requestId: str | int
    #: Writes only: a repeat within IDEMPOTENCY_TTL gets the first reply (protocol.md).
    idempotencyKey: str
    pk: Any
    data: Any
    query: dict[str, Any]
    headers: dict[str, Any]


def is_id(value: Any) -> bool:
    """Whether ``value`` may be a ``requestId`` or a ``pk``: a string or an integer (no bool)."""
    return isinstance(value, str | int) and not isinstance(value, bool)


class Reply(TypedDict):
    """The one reply a request gets (as the ack argument, or emitted to the requester)."""

    status: int
    event: str
    namespace: str | None
    action: str | None
    requestId: str | int | None
    data: Any
    #: A subscription's rooms' positions; ``recovered`` when it sent ``since`` (protocol.md).
    positions: NotRequired[dict[str, Any]]
    recovered: NotRequired[bool]
    #: True when the reply is the one kept for the request's ``idempotencyKey``.
    replayed: NotRequired[bool]


class Push(TypedDict):
    """An observer event sent to a room."""

    status: int
    event: str
    namespace: str
    action: Literal["SUBSCRIPTION"]
    type: PushType
    room: str
    data: Any
    requestId: NotRequired[None]
