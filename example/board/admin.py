from django.contrib import admin

from .models import Project, Task


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "created"]
    list_filter = ["owner"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "title", "project", "owner", "priority", "done", "updated"]
    list_filter = ["done", "priority", "owner"]
    search_fields = ["title", "notes"]
