"""The board's hooks: ``projects`` and ``tasks``, private to their owner, pushed live.

Each hook declares its ``event``, so djira serves it without consumer code. Everything here
is private: querysets are the requesting user's rows, permissions check ownership, and the
observers push through one room per user, so a socket only ever hears about its own user's
projects and tasks.
"""

from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.filters import OrderingFilter, SearchFilter

from djira.decorators import action
from djira.hooks import ModelAPIHook
from djira.observers import observer
from djira.permissions import BasePermission, IsAuthenticated
from djira.scope import Scope

from .models import Project, Task
from .serializers import CompleteSerializer, ProjectSerializer, TaskSerializer


def owner_room(user_pk: object) -> str:
    """The room of everything one user owns."""
    return f"owner__{user_pk}"


def progress_room(user_pk: object) -> str:
    """The raw Socket.IO room the ``progress`` dispatcher emits to (see signals.py)."""
    return f"board:progress:{user_pk}"


class IsOwner(BasePermission):
    """Only the owner may read or change a row (querysets already hide the others')."""

    message = "This is not yours."

    def has_object_permission(self, scope, hook, obj):
        return obj.owner_id == scope.user.pk


class ProjectAPIHook(ModelAPIHook):
    event = "projects"
    serializer_class = ProjectSerializer
    permission_classes = [IsAuthenticated, IsOwner]
    filter_backends = [SearchFilter, OrderingFilter]
    search_fields = ["name"]
    ordering_fields = ["name", "created"]
    pagination_class = None  # a user has a handful of projects: the page lists them all

    def get_queryset(self):
        return Project.objects.filter(owner=self.scope.user)

    @observer(Project, ProjectSerializer)
    def project_changes(self, **kwargs):
        return None

    @project_changes.rooms
    def project_rooms(self, instance):
        yield owner_room(instance.owner_id)

    @project_changes.subscribing_rooms
    def project_subscribing_rooms(self, scope):
        yield owner_room(scope.user.pk)

    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
    async def subscribe(self, scope: Scope):
        await self.project_changes.subscription(scope)
        # Also the per-user progress counters pushed by the dispatcher in signals.py.
        if scope.action == "SUBSCRIPTION":
            await self.server.enter_room(scope.sid, progress_room(scope.user.pk))
        else:
            await self.server.leave_room(scope.sid, progress_room(scope.user.pk))

    @action(actions=["GET"])
    def progress(self, scope: Scope):
        """Open and done counts of each of the user's projects: ``{project id: {...}}``."""
        from .signals import progress_of

        return {str(pk): counts for pk, counts in progress_of(scope.user.pk).items()}


class TaskAPIHook(ModelAPIHook):
    event = "tasks"
    serializer_class = TaskSerializer
    permission_classes = [IsAuthenticated, IsOwner]
    filter_backends = [DjangoFilterBackend, SearchFilter, OrderingFilter]
    filterset_fields = ["project", "done", "priority"]
    search_fields = ["title", "notes"]
    ordering_fields = ["created", "updated", "priority", "title"]

    def get_queryset(self):
        return Task.objects.filter(owner=self.scope.user)

    @action(actions=["POST"])
    def complete(self, scope: Scope):
        """Mark the task ``pk`` done (or not done again, with ``data: {"done": false}``)."""
        serializer = CompleteSerializer(data=scope.data or {})
        serializer.is_valid(raise_exception=True)
        task = self.get_object()
        task.done = serializer.validated_data["done"]
        task.save(update_fields=["done"])
        return self.get_serializer(task).data

    # Every committed change of a task reaches its owner's sockets (all their tabs), and
    # nobody else's: rooms partition the rows by owner.
    @observer(Task, TaskSerializer)
    def task_changes(self, **kwargs):
        return None

    @task_changes.rooms
    def task_rooms(self, instance):
        yield owner_room(instance.owner_id)

    @task_changes.subscribing_rooms
    def task_subscribing_rooms(self, scope):
        yield owner_room(scope.user.pk)

    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
    async def subscribe(self, scope: Scope):
        await self.task_changes.subscription(scope)
