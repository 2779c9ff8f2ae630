"""The test server: hooks registered the seed's way, on an explicit Consumer."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

from django.core.asgi import get_asgi_application as get_django_application  # noqa: E402

django_application = get_django_application()

from djira.asgi import get_asgi_application  # noqa: E402
from djira.consumer import Consumer  # noqa: E402
from djira.settings import jira_settings  # noqa: E402
from tests.testapp import hooks  # noqa: E402

consumer = Consumer(jira_settings.SOCKET_INSTANCE)
consumer.register("books", hooks.BookAPIHook)
consumer.register("readonly", hooks.ReadOnlyBookAPIHook)
consumer.register("tools", hooks.ToolsAPIHook)
consumer.register("runtime", hooks.RuntimeAPIHook)
consumer.start()
# Registering after start() works too.
consumer.register("private", hooks.PrivateBookAPIHook)

application = get_asgi_application(django_application, consumer=consumer)

# Observer tests (tests/observers): hooks declared in tests/testapp/observed.py.
from tests.testapp import observed  # noqa: E402

consumer.register("observed", observed.ObservedBookHook)
consumer.register("observed_users", observed.ObservedUserHook)

# Database tests (tests/test_database.py): connection state and transaction misuse.
from tests.testapp import dbhooks  # noqa: E402

consumer.register("db", dbhooks.DatabaseHook)

# Permission shapes (tests/test_permission_shapes.py).
from tests.testapp import shapes  # noqa: E402

for name, hook_class in shapes.HOOKS.items():
    consumer.register(name, hook_class)

# Traces (tests/test_trace.py): a listener that wants them, on servers started for it.
if os.environ.get("DJIRA_TEST_TRACE") == "1":
    from djira import lifecycle  # noqa: E402
    from tests.testapp import tracing  # noqa: E402

    lifecycle.register_listener(tracing.TraceCollector)
    consumer.register("traces", tracing.TracesHook)
