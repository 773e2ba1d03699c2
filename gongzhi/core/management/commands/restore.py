"""gongzhi restore FILE [--yes]: replace the database and media with a backup's (stop the server first)."""

from django.core.management.base import BaseCommand, CommandError

from gongzhi.core.backup import BackupError, read_manifest, restore


class Command(BaseCommand):
    help = "Restore the database and media files from a `gongzhi backup` archive, replacing what is there."

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, archive, yes=False, **options):
        try:
            manifest = read_manifest(archive)
            if not yes:
                answer = input(f"Replace the current database and media with the backup of {manifest['created_at']}? "
                               "Type yes: ")
                if answer.strip().lower() != "yes":
                    raise CommandError("not restored")
            restore(archive)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"restored {archive} (made {manifest['created_at']})")
