from django.contrib import admin

from djira.admin.live import cards
from djira.admin.live.options import LiveModelAdminMixin

from .models import Project, Task


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner", "created"]
    list_filter = ["owner"]


@admin.register(Task)
class TaskAdmin(LiveModelAdminMixin, admin.ModelAdmin):
    """Live: rows follow saves from anywhere (the board, the API, a shell); see docs/admin.md.

    Superusers see every task, other staff their own: the live rooms partition the rows
    the same way, so nobody hears of a task their changelist would not show.
    """

    list_display = ["id", "title", "project", "owner", "priority", "done", "updated"]
    list_filter = ["done", "priority", "owner"]
    search_fields = ["title", "notes"]

    def get_queryset(self, request):
        tasks = super().get_queryset(request)
        return tasks if request.user.is_superuser else tasks.filter(owner=request.user)

    def get_live_rooms(self, obj):
        return ["all", f"owner__{obj.owner_id}"]

    def get_live_subscribing_rooms(self, request):
        return ["all"] if request.user.is_superuser else [f"owner__{request.user.pk}"]


# Live cards on the board's admin page (/admin/board/), kept current by the pushes of
# TaskAdmin's changes ("djira/live/index.html" would put them on the admin's home page).
admin.site.app_index_template = "djira/live/app_index.html"
cards.register(
    cards.Count("Open tasks", Task.objects.filter(done=False)),
    cards.Sum("Open priority points", Task.objects.filter(done=False), "priority"),
    cards.Sparkline("Tasks done per day", Task.objects.filter(done=True), "completed_at"),
    cards.Recent("Latest tasks", Task.objects.order_by("-created", "-id")),
)
