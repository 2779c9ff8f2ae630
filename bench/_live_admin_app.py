"""The server of bench/live_admin.py: its settings, Book's admin live."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench._live_admin_settings")

from django.core.asgi import get_asgi_application as get_django_application  # noqa: E402

django_application = get_django_application()

from bench import _live_admin_site  # noqa: E402

_live_admin_site.register(live=True)

from djira.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application(django_application)
