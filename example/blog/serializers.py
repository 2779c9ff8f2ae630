from django.contrib.auth import get_user_model
from rest_framework import serializers

from .models import Article


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "username", "first_name", "last_name", "is_staff"]
        read_only_fields = ["is_staff"]


class ArticleSerializer(serializers.ModelSerializer):
    author = serializers.HiddenField(default=serializers.CurrentUserDefault())
    author_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Article
        fields = ["id", "title", "body", "published", "author", "author_id", "created", "updated"]


class PasswordSerializer(serializers.Serializer):
    password = serializers.CharField(min_length=8, write_only=True)
