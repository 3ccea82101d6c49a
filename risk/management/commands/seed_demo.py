import json
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError

from book.book_import import import_book_text
from book.models import Account
from console import arguments
from console.permissions import FULL_GROUP, READ_ONLY_GROUP
from risk.demo import demo_book


class Command(BaseCommand):
    help = "Load a realistic demo book; in demo mode (MARGINCALL_DEMO=1) also create the demo users."

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=arguments.number(int, 1, 1_000_000), default=2000)
        parser.add_argument("--seed", type=arguments.number(int, 0, 2**32 - 1), default=2026)

    def handle(self, *args, accounts, seed, **options):
        held = Account.objects.count()
        if held and not settings.DEMO:
            # On a broker's database the demo's prices and accounts would overwrite real ones, and the
            # calls they open would send their clients notices.
            raise CommandError(
                f"The book already holds {held} account(s): seed_demo writes demo prices and accounts over it. "
                "Run it on an empty database, or on a demo database with MARGINCALL_DEMO=1."
            )
        result = import_book_text(json.dumps(demo_book(accounts=accounts, seed=seed)))
        self.stdout.write(result.summary())
        if not settings.DEMO:
            self.stdout.write("Not in demo mode (MARGINCALL_DEMO=1): no users created.")
            return
        logins = self.create_users()
        path = settings.VAR_DIR / "demo-logins.txt"
        path.write_text("".join(f"{user} / {password}\n" for user, password in logins))
        path.chmod(0o600)
        self.stdout.write("Demo logins (also in var/demo-logins.txt):")
        for user, password in logins:
            self.stdout.write(f"  {user} / {password}")

    def create_users(self):
        User = get_user_model()
        view_all_desks = Permission.objects.get(content_type__app_label="book", codename="view_desk")
        logins = []
        for username, group in (("trader", FULL_GROUP), ("viewer", READ_ONLY_GROUP), ("admin", None)):
            password = secrets.token_urlsafe(9)
            user, _ = User.objects.get_or_create(username=username)
            user.set_password(password)
            if group:
                user.groups.add(Group.objects.get(name=group))
                user.user_permissions.add(view_all_desks)
            else:
                user.is_staff = user.is_superuser = True
            user.save()
            logins.append((username, password))
        return logins
