"""A small task board: projects and tasks, each owned by one user."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Project(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=80)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    class Priority(models.IntegerChoices):
        LOW = 0, "low"
        NORMAL = 1, "normal"
        HIGH = 2, "high"

    # The owner is the project's owner, kept on the task too: rooms and querysets then need
    # no join, and a push for a task never costs a query for its project.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tasks"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    priority = models.IntegerField(choices=Priority.choices, default=Priority.NORMAL)
    done = models.BooleanField(default=False)
    completed_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["done", "-priority", "-created", "-id"]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # completed_at follows done, whoever saves (a hook, the admin, a shell).
        if self.done and self.completed_at is None:
            self.completed_at = timezone.now()
        elif not self.done:
            self.completed_at = None
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "completed_at", "updated"}
        super().save(*args, **kwargs)
