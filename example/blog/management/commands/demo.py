"""Set up and serve the example: migrate, create the demo accounts, print them, run uvicorn."""

from board.models import Project, Task
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

# (username, password, staff, what the account is for); passwords equal usernames: a demo.
ACCOUNTS = [
    ("admin", "admin", True, "superuser: Django admin and the djira console"),
    ("demo", "demo", False, "task board user"),
    ("sam", "sam", False, "another task board user (sees none of demo's tasks)"),
]

# Each board user's own starter projects and tasks, created with the account: two boards
# side by side show whose is whose at a glance.
SAMPLE_BOARDS = {
    "demo": {
        "Website": [
            ("Write the launch announcement", 2, False),
            ("Fix the broken footer links", 1, False),
            ("Compress the hero images", 0, True),
        ],
        "Home": [
            ("Renew the car insurance", 2, False),
            ("Book a plumber for the kitchen sink", 1, False),
        ],
    },
    "sam": {
        "Conference talk": [
            ("Send the abstract to the organisers", 2, False),
            ("Rehearse with a timer", 1, False),
            ("Book the train tickets", 1, True),
        ],
        "Garden": [
            ("Plant the tomato seedlings", 1, False),
            ("Fix the leaking hose", 0, False),
        ],
    },
}


class Command(BaseCommand):
    help = "Migrate, create the demo accounts (printed with their tokens) and serve under uvicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Set up only.")

    def handle(self, *args, host, port, no_serve, **options):
        call_command("migrate", interactive=False, verbosity=0)
        rows = []
        for username, password, staff, purpose in ACCOUNTS:
            user, token = self.account(username, password, staff)
            rows.append((username, password, token.key, purpose))
        base = f"http://{host}:{port}"
        width = max(len(f"{u} / {p}") for u, p, _, _ in rows)
        accounts = "\n".join(
            f"    {f'{u} / {p}':<{width}}  token {key}  {purpose}" for u, p, key, purpose in rows
        )
        self.stdout.write(
            f"djira example\n"
            f"  task board: {base}/          (sign in as demo or sam; open it in two tabs)\n"
            f"  admin:      {base}/admin/    (admin)\n"
            f"  console:    {base}/admin/djira/\n"
            f"  socket.io:  {base}/socket.io/\n"
            f"  accounts (username / password, API token):\n{accounts}\n"
        )
        if no_serve:
            return
        import uvicorn

        uvicorn.run(
            "example.asgi:application", host=host, port=port, log_level="info", lifespan="off"
        )

    @transaction.atomic
    def account(self, username: str, password: str, staff: bool):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username, defaults={"is_staff": staff, "is_superuser": staff}
        )
        if created:
            user.set_password(password)
            user.save()
            if not staff:
                self.sample_board(user)
        token, _ = Token.objects.get_or_create(user=user)
        return user, token

    def sample_board(self, user) -> None:
        # bulk_create sends no signals: before the server starts nobody could receive pushes,
        # and djira would warn that this process has no way to deliver them.
        sample = SAMPLE_BOARDS.get(user.get_username(), SAMPLE_BOARDS["demo"])
        projects = Project.objects.bulk_create([Project(owner=user, name=name) for name in sample])
        now = timezone.now()
        Task.objects.bulk_create(
            [
                Task(
                    owner=user,
                    project=project,
                    title=title,
                    priority=priority,
                    done=done,
                    completed_at=now if done else None,
                )
                for project, tasks in zip(projects, sample.values(), strict=True)
                for title, priority, done in tasks
            ]
        )
