from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from book.book_format import FieldError, parse_key
from book.models import ApiScope, ApiToken
from console import audit


class Command(BaseCommand):
    help = (
        "Create an API token for an upstream system (Authorization: Bearer <token>) and print its secret "
        "once, as the last word of the last line. Only its SHA-256 is kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="who the token is for, e.g. price-feed")
        parser.add_argument(
            "--scope",
            dest="scopes",
            choices=ApiScope.values,
            nargs="+",
            action="extend",
            metavar="SCOPE",
            help=f"what it may post: {', '.join(ApiScope.values)} (all when not given; the option may be repeated)",
        )

    def handle(self, *args, name, scopes=None, **options):
        try:
            name = parse_key(name, max_length=ApiToken._meta.get_field("name").max_length)
        except FieldError as error:
            raise CommandError(f"name {error}") from None
        if ApiToken.objects.filter(name__iexact=name).exists():
            raise CommandError(f"a token named {name!r} exists (in these or other capitals): pick another name")
        scopes = ",".join(scope for scope in ApiScope.values if scope in (scopes or ApiScope.values))
        token = ApiToken(name=name, scopes=scopes)
        secret = token.issue()
        try:
            with transaction.atomic():  # the token and its audit entry, both or neither
                token.save()
                audit.record(
                    None,
                    "admin_add",
                    detail={
                        "model": ApiToken._meta.label,
                        "pk": str(token.pk),
                        "object": name,
                        "scopes": scopes,
                        "prefix": token.prefix,
                        "by": "manage.py create_api_token",
                    },
                )
        except IntegrityError:
            raise CommandError(f"a token named {name!r} exists: pick another name") from None
        self.stdout.write(
            f"Created API token {name!r} (prefix {token.prefix}), which may post {scopes}."
            " Copy the secret now: it is not kept."
        )
        self.stdout.write(f"Token: {secret}")
