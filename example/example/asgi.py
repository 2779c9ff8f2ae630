"""ASGI entry point: Django over HTTP and djira over Socket.IO, under uvicorn.

uvicorn --app-dir example example.asgi:application
"""

import os

from django.core.asgi import get_asgi_application as get_django_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example.settings")
django_application = get_django_application()

from djira.asgi import get_asgi_application  # noqa: E402 - after Django is set up

# Hooks that declare `event` in blog/hooks.py are discovered; no consumer code needed.
application = get_asgi_application(django_application)
