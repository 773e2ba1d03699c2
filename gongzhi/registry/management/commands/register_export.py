"""gongzhi register_export --place CODE --user NAME -o FILE [--full]: the one-form export from the shell."""

from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from gongzhi.accounts.models import User
from gongzhi.places.models import Place
from gongzhi.registry.oneform import export_register


class Command(BaseCommand):
    help = "Export the register under a place as .xlsx (masked unless --full and the user may)."

    def add_arguments(self, parser):
        parser.add_argument("--place", required=True)
        parser.add_argument("--user", required=True)
        parser.add_argument("-o", "--output", required=True)
        parser.add_argument("--full", action="store_true")

    def handle(self, *args, place, user, output, full, **options):
        node = Place.objects.filter(code=place).first() or Place.objects.filter(pk=place if place.isdigit() else 0).first()
        account = User.objects.filter(username=user).first()
        if node is None or account is None:
            raise CommandError("unknown place or user")
        try:
            Path(output).write_bytes(export_register(account, node, full=full))
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"wrote {output}")
