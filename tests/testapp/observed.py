"""Hooks with observers, for tests/observers. Imported by TestAppConfig.ready().

Changes are made inside the server process through the ``scenario`` route (a sync body, so
in a worker thread with real transactions), or from other processes through Redis.
"""

from collections import Counter

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import Signal

from djira.decorators import action
from djira.hooks import APIHook, ModelAPIHook
from djira.observers import observer, signal_observer
from djira.observers.dispatch import receiver
from djira.permissions import BasePermission

from .hooks import IsOwner
from .models import Book
from .serializers import BookSerializer

User = get_user_model()
book_flagged = Signal()
# Serializer calls per observer in this process, read through the ``calls`` route.
CALLS: Counter[str] = Counter()


class MayViewBooks(BasePermission):
    def has_permission(self, scope):
        return scope.user.has_perm("testapp.view_book")


class ObservedBookHook(ModelAPIHook):
    event = "observed"
    queryset = Book.objects.all()
    serializer_class = BookSerializer

    # Default rooms: "book" (subscribe without pk) and "book__<pk>" (with pk).
    @observer(Book, BookSerializer)
    def books(self, instance, action, **kwargs):
        if instance.title == "explode":
            raise RuntimeError("observer failure on purpose")
        return None

    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
    async def subscribe(self, scope):
        await self.books.subscription(scope)

    # A request-level permission that can be revoked between two requests.
    @action(actions=["SUBSCRIPTION"], permission_classes=[MayViewBooks])
    async def subscribe_viewers(self, scope):
        await self.books.subscription(scope)

    # Object permission through get_object(): only the owner may subscribe to one book.
    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"], permission_classes=[IsOwner])
    async def subscribe_mine(self, scope):
        await self.books.subscription(scope)

    # Rooms per owner: a book changing owner leaves one room and enters another.
    @observer(Book, BookSerializer)
    def owned(self, **kwargs):
        return None

    @owned.rooms
    def owned_rooms(self, instance):
        if instance.owner_id:
            yield f"owner__{instance.owner_id}"

    @owned.subscribing_rooms
    def owned_subscribing_rooms(self, scope):
        if scope.user.is_authenticated:
            yield f"owner__{scope.user.pk}"

    @owned.serializer
    def owned_data(self, instance, action):
        CALLS["owned"] += 1
        return {"id": instance.pk, "title": instance.title, "owner": instance.owner_id}

    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
    async def subscribe_owned(self, scope):
        await self.owned.subscription(scope)

    # A generic signal observer.
    @signal_observer(book_flagged, serializer=BookSerializer)
    def flags(self, instance, reason, **kwargs):
        if reason == "silent":
            return False
        return None

    @flags.serializer
    def flag_data(self, instance, reason, **kwargs):
        return {"id": instance.pk, "reason": reason}

    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
    async def subscribe_flags(self, scope):
        await self.flags.subscription(scope)

    # Declares SUBSCRIPTION only: UNSUBSCRIPTION is implied.
    @action(actions=["SUBSCRIPTION"])
    async def subscribe_only(self, scope):
        await self.books.subscription(scope)

    # The observer's name reused for each decorated method (Channels REST Framework's
    # docs do this): every decorator returns the observer, so ``by_author`` stays one.
    @observer(Book)
    def by_author(self, **kwargs):
        return None

    @by_author.rooms
    def by_author(self, instance):
        yield f"author__{instance.author}"

    @by_author.subscribing_rooms
    def by_author(self, scope):
        yield f"author__{scope.query.get('author', '')}"

    @by_author.serializer
    def by_author(self, instance, action):
        return {"id": instance.pk, "author": instance.author, "via": "by_author"}

    @action(actions=["SUBSCRIPTION"])
    async def subscribe_author(self, scope):
        await self.by_author.subscription(scope)

    @action(actions=["GET"])
    def pushes(self, scope):
        """Pushes this process's monitor was told about."""
        return self.server.djira_consumer.monitor.pushes

    @action(actions=["POST"])
    def transactional_emit(self, scope):
        """``self.emit`` inside a transaction: sent on commit, never on rollback."""
        try:
            with transaction.atomic():
                self.emit("told", {"n": scope.data["n"]})
                if scope.data.get("rollback"):
                    raise ValueError("roll back")
        except ValueError:
            pass
        return {}

    @action(actions=["GET"])
    def rooms(self, scope):
        """Members per djira room on this process (for cleanup tests)."""
        rooms = self.server.manager.rooms.get("/", {})
        return {
            name: len(members)
            for name, members in rooms.items()
            if isinstance(name, str) and name.startswith("djira:") and members
        }

    @action(actions=["GET"])
    def calls(self, scope):
        return dict(CALLS)

    @action(actions=["POST"])
    def scenario(self, scope):
        return SCENARIOS[scope.data["name"]](scope.data)


class ObservedUserHook(APIHook):
    event = "observed_users"

    @observer(User, m2m=True)
    def users(self, **kwargs):
        return None

    @users.serializer
    def user_data(self, instance, action):
        return {"id": instance.pk, "groups": sorted(g.name for g in instance.groups.all())}

    @action(actions=["SUBSCRIPTION", "UNSUBSCRIPTION"])
    async def subscribe(self, scope):
        await self.users.subscription(scope)


class NoteHook(ModelAPIHook):
    """No ``event``: served only where an asgi module registers it (tests/observers/asgi.py)."""

    queryset = Book.objects.all()
    serializer_class = BookSerializer

    @observer(Book, BookSerializer)
    def notes(self, **kwargs):
        return None

    @action(actions=["SUBSCRIPTION"])
    async def subscribe(self, scope):
        await self.notes.subscription(scope)


@receiver(post_save, Book, serializer=BookSerializer)
def announce_broadcast(instance, created, server, serializer, **kwargs):
    if instance.title == "receiver-boom":
        raise RuntimeError("receiver failure on purpose")
    if created and instance.title.startswith("broadcast"):
        server.emit("broadcast", {"status": 201, "data": serializer(instance)})
    if created and instance.title.startswith("skip:"):
        # python-socketio's emit arguments: everyone but the sid named in the title.
        server.emit("broadcast", {"title": instance.title}, skip_sid=instance.title[5:])


# -- server-side scenarios -----------------------------------------------------------------


def _multi(data):
    with transaction.atomic():
        book = Book.objects.create(title="draft")
        book.title = "second"
        book.save()
        book.title = data.get("title", "final")
        book.save()
    return {"id": book.pk}


def _rollback(data):
    try:
        with transaction.atomic():
            Book.objects.create(title=data.get("title", "rolled back"))
            raise ValueError("roll back")
    except ValueError:
        pass
    return {}


def _savepoint(data):
    book = Book.objects.get(pk=data["id"])
    with transaction.atomic():
        book.title = "outer"
        book.save()
        try:
            with transaction.atomic():
                Book.objects.create(title="inner, rolled back")
                raise ValueError("roll back the savepoint")
        except ValueError:
            pass
    return {"id": book.pk}


def _move(data):
    book = Book.objects.get(pk=data["id"])
    book.owner_id = data["owner"]
    book.save()
    return {"id": book.pk}


def _create(data):
    book = Book.objects.create(title=data.get("title", "t"), owner_id=data.get("owner"))
    return {"id": book.pk}


def _bulk(data):
    with transaction.atomic():
        books = Book.objects.bulk_create([Book(title=f"bulk {i}") for i in range(3)])
        ObservedBookHook.books.notify(books, "create")
    Book.objects.filter(pk__in=[b.pk for b in books]).update(year=1234)
    ObservedBookHook.books.notify(Book.objects.filter(pk__in=[b.pk for b in books]))
    return {"ids": [b.pk for b in books]}


def _delete(data):
    Book.objects.filter(pk=data["id"]).get().delete()
    return {}


def _flag(data):
    book = Book.objects.get(pk=data["id"])
    book_flagged.send(sender=Book, instance=book, reason=data["reason"])
    return {}


def _group(data):
    group, _ = Group.objects.get_or_create(name=data["group"])
    User.objects.get(pk=data["user"]).groups.add(group)
    return {}


SCENARIOS = {
    "multi": _multi,
    "rollback": _rollback,
    "savepoint": _savepoint,
    "move": _move,
    "create": _create,
    "bulk": _bulk,
    "delete": _delete,
    "flag": _flag,
    "group": _group,
}
