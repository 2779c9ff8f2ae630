"""A dispatcher: per-project progress, pushed to the owner whenever one of its tasks changes.

A model observer pushes the row that changed; the board also shows aggregates (open and done
counts per project) that no single row carries. ``receiver`` computes them when a task is
saved or deleted and emits them after the transaction commits, from whichever process saved
(a socket request, the Django admin, a shell), to the owner's sockets on every server.
"""

from django.db.models import Count, Q
from django.db.models.signals import post_delete, post_save

from djira.observers.dispatch import receiver

from .hooks import progress_room
from .models import Project, Task


def progress_of(owner_pk: object, project_pk: object = None) -> dict[int, dict[str, int]]:
    """``{project pk: {"open": n, "done": n}}`` for one owner (or one of their projects)."""
    projects = Project.objects.filter(owner_id=owner_pk)
    if project_pk is not None:
        projects = projects.filter(pk=project_pk)
    rows = projects.annotate(
        open=Count("tasks", filter=Q(tasks__done=False)),
        finished=Count("tasks", filter=Q(tasks__done=True)),
    ).values_list("pk", "open", "finished")
    return {pk: {"open": open_, "done": done} for pk, open_, done in rows}


@receiver([post_save, post_delete], Task)
def on_task_changed(instance: Task, server, **kwargs) -> None:
    counts = progress_of(instance.owner_id, instance.project_id)
    if not counts:  # the project is being deleted with its tasks
        return
    # Shaped like a reply (PROTOCOL.md), which is what clients' ``on(event)`` listeners take.
    data = {"project": instance.project_id, **counts[instance.project_id]}
    server.emit(
        "progress",
        {"status": 200, "event": "progress", "data": data},
        room=progress_room(instance.owner_id),
    )
