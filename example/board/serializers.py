from rest_framework import serializers

from .models import Project, Task


class ProjectSerializer(serializers.ModelSerializer):
    owner = serializers.HiddenField(default=serializers.CurrentUserDefault())

    class Meta:
        model = Project
        fields = ["id", "name", "owner", "created"]


class OwnProjectField(serializers.PrimaryKeyRelatedField):
    """A project of the requesting user: anyone else's pk is "does not exist", not 403."""

    def get_queryset(self):
        request = self.context.get("request")
        if request is None:  # described outside a request (the console's catalog): no choices
            return Project.objects.none()
        return Project.objects.filter(owner=request.user)


class TaskSerializer(serializers.ModelSerializer):
    owner = serializers.HiddenField(default=serializers.CurrentUserDefault())
    project = OwnProjectField()

    class Meta:
        model = Task
        fields = [
            "id",
            "owner",
            "project",
            "title",
            "notes",
            "priority",
            "done",
            "completed_at",
            "created",
            "updated",
        ]
        read_only_fields = ["completed_at", "created", "updated"]

    def validate_project(self, project: Project) -> Project:
        # Progress is pushed per project from a signal that sees only the new state: a task
        # moving between projects would leave the old one's count stale.
        if self.instance is not None and project.pk != self.instance.project_id:
            raise serializers.ValidationError("A task stays in its project.")
        return project


class CompleteSerializer(serializers.Serializer):
    done = serializers.BooleanField(default=True)
