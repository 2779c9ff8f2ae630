"""A hook for tests/observers/test_presence.py, registered by tests/observers/asgi.py as
``rooms``: one observer announces joins and leaves (``presence=True``), one does not.
"""

from asgiref.sync import async_to_sync

from djira.decorators import action
from djira.hooks import ModelAPIHook
from djira.observers import observer
from tests.testapp.models import Book
from tests.testapp.serializers import BookSerializer


class RoomHook(ModelAPIHook):
    queryset = Book.objects.all()
    serializer_class = BookSerializer

    @observer(Book, BookSerializer, presence=True)
    def announced(self, **kwargs):
        return None

    @observer(Book, BookSerializer)
    def quiet(self, **kwargs):
        return None

    @action(actions=["SUBSCRIPTION"])
    async def subscribe(self, scope):
        await self.announced.subscription(scope)

    @action(actions=["SUBSCRIPTION"])
    async def subscribe_again(self, scope):  # a second route to the same observer
        await self.announced.subscription(scope)

    @action(actions=["SUBSCRIPTION"])
    async def subscribe_quiet(self, scope):
        await self.quiet.subscription(scope)

    # What clients call to ask: the rooms they may join with the same parameters.
    @action(actions=["GET"])
    async def presence(self, scope):
        return await self.announced.presence_of(scope)

    @action(actions=["GET"])
    async def presence_quiet(self, scope):
        return await self.quiet.presence_of(scope)

    # The observer's API from a sync body: ``await self.announced.presence(room)``.
    @action(actions=["GET"])
    def room(self, scope):
        return async_to_sync(self.announced.presence)(scope.query_params["room"])
