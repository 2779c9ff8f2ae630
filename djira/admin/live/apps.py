"""``"djira.admin.live"`` in ``INSTALLED_APPS``: with ``LIVE_ADMIN``, every admin is live.

Listed after ``django.contrib.admin``, its ``ready()`` runs once the admin has discovered
every app's ``admin.py``: each ``ModelAdmin`` of ``admin.site`` is then registered again as
a subclass with ``LiveModelAdminMixin`` (``AdminSite.register``, no patching). The same
happens in every process (servers, shells, workers), so each one's saves push.
"""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class LiveAdminConfig(AppConfig):
    name = "djira.admin.live"
    label = "djira_live_admin"
    verbose_name = "djira live admin"

    def ready(self) -> None:
        from django.contrib import admin

        from djira import admin as console
        from djira.settings import jira_settings

        # Listing this app imported its parent package before models were loaded: the
        # console registers now (djira.admin.setup), as it would have on autodiscovery.
        console.setup()

        if jira_settings.LIVE_ADMIN:
            make_site_live(admin.site)


def make_site_live(site: Any) -> list[type[Any]]:
    """Register every admin of ``site`` again with the live mixin; return the new classes.

    Admins already live, and djira's console pages (not changelists), are left as they are.
    An admin with its own ``change_list_template`` or ``change_form_template`` keeps it (its
    rows still push; extend ``djira/live/change_list.html`` to show them live).
    """
    from djira.admin.live.options import LiveModelAdminMixin

    made = []
    for model, model_admin in list(site._registry.items()):
        cls = type(model_admin)
        if isinstance(model_admin, LiveModelAdminMixin) or model._meta.app_label == "djira":
            continue
        attrs: dict[str, Any] = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
        for name in ("change_list_template", "change_form_template"):
            if getattr(cls, name, None):
                attrs[name] = getattr(cls, name)
        live = type(cls.__name__, (LiveModelAdminMixin, cls), attrs)
        site.unregister(model)
        site.register(model, live)
        made.append(live)
    return made
