"""The test server, plus a hook registered only here, under two names, as in the original
djira README (``consumer.register("notes", NoteHook)``; the class has no ``event``).

Processes that do not import this module (a shell, a worker) never learn those names.
"""

from tests.asgi import application, consumer  # noqa: F401 - the ASGI app uvicorn serves
from tests.observers.presence_hooks import RoomHook
from tests.testapp.observed import NoteHook

consumer.register("notes", NoteHook)
consumer.register("jottings", NoteHook)
consumer.register("rooms", RoomHook)  # tests/observers/test_presence.py
