"""Who may use the console: its permissions, and the one check every page and view makes.

Apart from ``djira.admin.options`` so that the views (which show or hide controls by these
permissions) and the ``ModelAdmin``s (which guard the URLs) both import it, not each other.
"""

from __future__ import annotations

from django.http import HttpRequest

VIEW = "djira.view_dashboard"
INSPECT = "djira.use_inspector"
DISCONNECT = "djira.disconnect_client"


def has_console_perm(request: HttpRequest, *perms: str) -> bool:
    """An active staff user holding every one of ``perms`` (superusers hold all)."""
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perms(perms))
