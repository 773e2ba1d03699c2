"""gongzhi register_import FILE --community CODE --user NAME [--commit]: the one-form import from the shell."""

from pathlib import Path

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from gongzhi.accounts.models import User
from gongzhi.places.models import Place
from gongzhi.registry.oneform import import_register


class Command(BaseCommand):
    help = "Check (default) or write (--commit) a one-form spreadsheet into a community."
    # Django's system checks (models, URLs, templates) are for developers and cost about 1.5 s a start.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--community", required=True, help="division code or place id")
        parser.add_argument("--user", required=True, help="the account the import is made as")
        parser.add_argument("--commit", action="store_true")

    def handle(self, *args, file, community, user, commit, **options):
        place = Place.objects.filter(code=community).first() or Place.objects.filter(pk=community if community.isdigit() else 0).first()
        account = User.objects.filter(username=user).first()
        if place is None or account is None:
            raise CommandError("unknown community or user")
        try:
            report = import_register(account, place, Path(file).name, Path(file).read_bytes(), dry_run=not commit)
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(str(exc.messages[0] if hasattr(exc, "messages") else exc)) from None
        for error in report.errors:
            self.stdout.write(f"row {error.row} [{error.column}] {error.message}")
        self.stdout.write(f"rows {report.rows}: households +{report.households_created} ~{report.households_updated}, "
                          f"persons +{report.persons_created} ~{report.persons_updated} ={report.unchanged}; "
                          f"{'written' if report.written else 'nothing written'}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} rows have errors")
