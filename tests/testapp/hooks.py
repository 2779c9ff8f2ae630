import time

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import permissions as drf_permissions
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.throttling import ScopedRateThrottle

from djira.decorators import action
from djira.hooks import APIHook, ModelAPIHook, ReadOnlyModelAPIHook
from djira.pagination import LimitOffsetPagination
from djira.permissions import BasePermission, IsAdminUser, IsAuthenticated
from djira.response import Response

from .models import Book
from .serializers import BookSerializer


class IsOwner(BasePermission):
    message = "Not your book."

    def has_object_permission(self, scope, hook, obj):
        return obj.owner_id == getattr(scope.user, "pk", None)


class BookAPIHook(ModelAPIHook):
    queryset = Book.objects.all()
    serializer = BookSerializer()  # the seed's spelling
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_fields = ["author", "year"]
    search_fields = ["title"]
    ordering_fields = ["title", "year"]

    def perform_create(self, serializer):
        user = self.scope.user
        serializer.save(owner=user if user.is_authenticated else None)

    @action(actions=["GET"])
    def count(self, scope):
        return {"count": self.get_queryset().count()}

    @action(actions=["POST", "PATCH"], namespace="echo-both")
    def echo(self, scope):
        return Response(
            {"action": scope.action, "data": scope.data, "tag": getattr(scope, "tag", None)}, 201
        )

    @action(actions=["GET"])
    def latest(self, scope):
        return self.get_serializer(self.get_queryset().last())  # a serializer, not its data

    @action(actions=["GET"])
    async def async_echo(self, scope):
        return {"query": scope.query_params.dict(), "user": scope.user.username or None}

    @action(actions=["GET"])
    def boom(self, scope):
        raise RuntimeError("secret internals")

    @action(actions=["GET"])
    async def async_boom(self):
        raise RuntimeError("secret internals")

    @action(actions=["GET"], permission_classes=[IsAdminUser])
    def admin_only(self, scope):
        return {"ok": True}

    @action(actions=["DELETE"], permission_classes=[IsAuthenticated & IsOwner])
    def owned(self, scope):
        book = self.get_object()
        return {"id": book.pk}

    @action(actions=["GET"], throttle_classes=[ScopedRateThrottle], throttle_scope="burst")
    def throttled(self, scope):
        return {"ok": True}

    @action(actions=["POST"])
    def shout(self, scope):
        self.emit("books", {"shout": scope.data})
        return {"sent": True}


class ReadOnlyBookAPIHook(ReadOnlyModelAPIHook):
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    pagination_class = LimitOffsetPagination
    permission_classes = [drf_permissions.IsAuthenticated]


class PrivateBookAPIHook(ModelAPIHook):
    queryset = Book.objects.all()
    serializer_class = BookSerializer
    permission_classes = [drf_permissions.DjangoModelPermissions]
    pagination_class = None


class ToolsAPIHook(APIHook):
    @action(actions=["GET", "POST"])
    def route(self, scope):
        return {"action": scope.action}

    @action(actions=["GET"])
    def slow(self, scope):
        time.sleep(float(scope.query_params.get("seconds", "1")))
        return {"slept": True}

    @action(actions=["GET"])
    def unencodable(self, scope):
        return {"book": Book.objects.first(), "books": Book.objects.all()}

    @action(actions=["GET"])
    async def async_unencodable(self, scope):
        return object()


class RuntimeAPIHook(APIHook):
    """What the serving process and connection look like from a hook (tests only)."""

    @action(actions=["GET"])
    def meta(self, scope):
        return {k: v for k, v in scope.META.items() if k.startswith("HTTP_") or k == "REMOTE_ADDR"}

    @action(actions=["GET"])
    async def rooms(self, scope):
        """Where socket ``query.sid`` is in this server's manager (tests/test_rooms.py)."""
        sid, manager = scope.query_params["sid"], scope.server.manager
        return {
            "rooms": [room for room, members in manager.rooms["/"].items() if sid in members],
            "indexed": [list(rooms) for (_, s), rooms in manager.joined.items() if s == sid],
        }

    @action(actions=["GET"])
    def gc(self, scope):
        import gc

        return {"frozen": gc.get_freeze_count(), "threshold": list(gc.get_threshold())}
