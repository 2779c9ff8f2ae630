"""The per-event request object handed to hooks, permissions, serializers and filters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AnonymousUser
from django.http import QueryDict

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from djira.server import DjiraServer


_EMPTY_QUERY: QueryDict | None = None


def to_query_dict(query: dict[str, Any] | None) -> QueryDict:
    """Build an immutable ``QueryDict`` from a JSON object (lists become repeated keys)."""
    global _EMPTY_QUERY
    if not query:
        # Most requests carry no query: share one immutable empty QueryDict (built lazily,
        # after settings are configured) instead of parsing "" per request.
        if _EMPTY_QUERY is None:
            _EMPTY_QUERY = QueryDict()
        return _EMPTY_QUERY
    qd = QueryDict(mutable=True)
    for key, value in query.items():
        if isinstance(value, list):
            qd.setlist(key, ["" if v is None else str(v) for v in value])
        elif value is None:
            qd[key] = ""
        elif isinstance(value, bool):
            qd[key] = "true" if value else "false"
        else:
            qd[key] = str(value)
    qd._mutable = False
    return qd


class Scope:
    """One request's context; quacks like a DRF ``Request`` where DRF code looks.

    DRF serializers get it as ``context["request"]``; permission classes, throttles and
    filter backends read ``user``, ``method``, ``query_params``, ``data`` and ``META`` from it.
    """

    def __init__(
        self,
        *,
        sid: str,
        event: str,
        user: AbstractBaseUser | AnonymousUser | None = None,
        auth: Any = None,
        namespace: str | None = None,
        action: str = "GET",
        data: Any = None,
        query: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        request_id: str | int | None = None,
        pk: Any = None,
        environ: dict[str, Any] | None = None,
        server: DjiraServer | None = None,
    ) -> None:
        self.sid = sid
        self.event = event
        self.user = user if user is not None else AnonymousUser()
        self.auth = auth
        self.namespace = namespace
        self.action = action
        self.data = data
        self._raw_query = query
        self._query: QueryDict | None = None
        self.headers = headers or {}
        self.request_id = request_id
        self.pk = pk
        self.environ = environ or {}
        self.server = server
        # Rooms joined or left by this request's subscription route, for its reply.
        self.subscribed_rooms: list[str] = []
        # A SUBSCRIPTION's ``since`` (positions the client saw; observers.history), and what
        # its reply says of the rooms' streams: ``positions``, and ``recovered`` with ``since``.
        self.since: Any = None
        self.positions: dict[str, Any] | None = None
        self.recovered: bool | None = None
        # Set by the hook handling the request (DRF's ``request.parser_context["view"]``).
        self.hook: Any = None
        # At connect only: the ``auth`` object the client sent with the handshake (``auth``
        # is then what authentication made of it, as DRF's ``request.auth``).
        self.handshake_auth: Any = None
        # The request's ``djira.trace.Trace`` while a listener wants traces, else ``None``.
        self.trace: Any = None
        # Length of the encoded reply envelope (set by djira.handler once it is encoded).
        self.reply_size: int | None = None
        # The request's ``idempotencyKey``, and whether its reply is one kept for that key
        # (djira.idempotency).
        self.idempotency_key: str | None = None
        self.replayed = False

    @property
    def query(self) -> QueryDict:
        """Query parameters as an immutable ``QueryDict`` (built on first use)."""
        if self._query is None:
            self._query = to_query_dict(self._raw_query)
        return self._query

    @property
    def raw_query(self) -> dict[str, Any]:
        """The query parameters as the client sent them (no ``QueryDict`` built)."""
        return self._raw_query or {}

    def set_query(self, query: dict[str, Any] | None) -> None:
        self._raw_query, self._query = query, None

    # -- DRF Request compatibility -------------------------------------------------------

    @property
    def method(self) -> str:
        return self.action

    @property
    def query_params(self) -> QueryDict:
        return self.query

    @property
    def GET(self) -> QueryDict:  # noqa: N802 - Django's HttpRequest spelling
        return self.query

    @property
    def META(self) -> dict[str, Any]:  # noqa: N802 - Django's HttpRequest spelling
        return self.environ

    @property
    def successful_authenticator(self) -> Any:
        return None

    def build_absolute_uri(self, location: str | None = None) -> str:
        """Absolute URL on the host the socket connected to (for hyperlinked serializers)."""
        scheme = self.environ.get("wsgi.url_scheme", "http")
        host = self.environ.get("HTTP_HOST") or self.environ.get("SERVER_NAME", "localhost")
        path = location or ""
        if path.startswith(("http://", "https://")):
            return path
        return f"{scheme}://{host}{path if path.startswith('/') else '/' + path}"

    def __repr__(self) -> str:
        return (
            f"<Scope {self.action} {self.event}"
            f"{':' + self.namespace if self.namespace else ''} sid={self.sid}>"
        )
