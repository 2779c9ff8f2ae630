"""The example's hooks. Each declares its `event`, so djira serves it without consumer code."""

from django.contrib.auth import get_user_model
from rest_framework.filters import OrderingFilter, SearchFilter

from djira.decorators import action
from djira.hooks import ModelAPIHook, ReadOnlyModelAPIHook
from djira.permissions import IsAuthenticated, IsAuthenticatedOrReadOnly
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


class ArticleAPIHook(ModelAPIHook):
    event = "articles"
    queryset = Article.objects.all()
    serializer_class = ArticleSerializer
    permission_classes = [IsAuthenticatedOrReadOnly]
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["title", "body"]
    ordering_fields = ["id", "title", "created"]

    def perform_create(self, serializer):
        serializer.save(author=self.scope.user)
