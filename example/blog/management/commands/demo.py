"""Set up and serve the example: migrate, create demo users, print URLs, run uvicorn."""

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Migrate, create the demo users (admin/admin, demo/demo) and serve under uvicorn."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-serve", action="store_true", help="Set up only.")

    def handle(self, *args, host, port, no_serve, **options):
        call_command("migrate", interactive=False, verbosity=0)
        User = get_user_model()
        admin, created = User.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        if created:
            admin.set_password("admin")
            admin.save()
        demo, created = User.objects.get_or_create(username="demo")
        if created:
            demo.set_password("demo")
            demo.save()
        admin_token, _ = Token.objects.get_or_create(user=admin)
        demo_token, _ = Token.objects.get_or_create(user=demo)
        base = f"http://{host}:{port}"
        self.stdout.write(
            f"djira example\n"
            f"  page:      {base}/\n"
            f"  admin:     {base}/admin/  (admin / admin)\n"
            f"  djira:     {base}/admin/djira/\n"
            f"  socket.io: {base}/socket.io/\n"
            f"  tokens:    admin={admin_token.key} demo={demo_token.key}\n"
        )
        if no_serve:
            return
        import uvicorn

        uvicorn.run(
            "example.asgi:application", host=host, port=port, log_level="info", lifespan="off"
        )
