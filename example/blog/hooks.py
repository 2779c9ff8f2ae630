"""The example's hooks. Each declares its `event`, so djira serves it without consumer code."""

from django.contrib.auth import get_user_model
from rest_framework.filters import OrderingFilter, SearchFilter

from djira.decorators import action
from djira.hooks import ModelAPIHook, ReadOnlyModelAPIHook
from djira.observers import observer
from djira.permissions import (
    SAFE_ACTIONS,
    BasePermission,
    IsAuthenticated,
    IsAuthenticatedOrReadOnly,
)
from djira.response import Response
from djira.scope import Scope

from .models import Article
from .serializers import ArticleSerializer, PasswordSerializer, UserSerializer

User = get_user_model()


class UserAPIHook(ReadOnlyModelAPIHook):
    event = "users"
    queryset = User.objects.order_by("id")
    serializer_class = UserSerializer
    permission_classes = [IsAuthenticated]
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["username", "first_name", "last_name"]
    ordering_fields = ["id", "username"]

    @action(actions=["GET"])
    def me(self, scope: Scope):
        return self.get_serializer(scope.user).data

    @action(actions=["POST"])
    def set_password(self, scope: Scope):
        serializer = PasswordSerializer(data=scope.data)
        serializer.is_valid(raise_exception=True)
        scope.user.set_password(serializer.validated_data["password"])
        scope.user.save(update_fields=["password"])
        return Response({"detail": "Password changed."})


class IsAuthorOrReadOnly(BasePermission):
    """Anyone may read an article; only its author (or staff) may change it."""

    message = "Only the author may change this article."

    def has_object_permission(self, scope, hook, obj):
        if scope.action in SAFE_ACTIONS:
            return True
        return obj.author_id == scope.user.pk or scope.user.is_staff


class ArticleAPIHook(ModelAPIHook):
    event = "articles"
    queryset = Article.objects.all()
    serializer_class = ArticleSerializer
    permission_classes = [IsAuthenticatedOrReadOnly, IsAuthorOrReadOnly]
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["title", "body"]
    ordering_fields = ["id", "title", "created"]

    def perform_create(self, serializer):
        serializer.save(author=self.scope.user)

    # Every committed change of an article, from any process (the admin, a shell, another
    # server behind the same Redis), is pushed to the sockets subscribed below: rooms
    # "article" (subscribe without pk) and "article__<pk>" (subscribe with pk).
    @observer(Article, ArticleSerializer)
    def article_changes(self, **kwargs):
        return None  # send the default push

    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
    async def subscribe(self, scope: Scope):
        await self.article_changes.subscription(scope)

    # Who is subscribed to the rooms `subscribe` would join with the same fields (so with the
    # same permission), on every server: `client.presence("articles", {pk})` in the browser.
    @action(actions=["GET"])
    async def presence(self, scope: Scope):
        return await self.article_changes.presence_of(scope)
