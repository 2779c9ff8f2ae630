from rest_framework import serializers

from .models import Book


class BookSerializer(serializers.ModelSerializer):
    class Meta:
        model = Book
        fields = ["id", "title", "author", "year", "owner"]
        read_only_fields = ["owner"]

    def validate_year(self, value):
        if value < 0:
            raise serializers.ValidationError("Year must be positive.")
        return value
