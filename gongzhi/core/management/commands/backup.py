"""gongzhi backup [-o FILE]: the database and uploaded media in one archive, consistent while the server runs."""

from django.core.management.base import BaseCommand, CommandError

from gongzhi.core.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the database (SQLite online backup or pg_dump) and media files into one .tar.gz archive."

    def add_arguments(self, parser):
        parser.add_argument("-o", "--output", help="Archive to write (default var/backups/gongzhi-<time>.tar.gz).")

    def handle(self, *args, output=None, **options):
        try:
            manifest = backup(output)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"wrote {manifest['file']} ({manifest['engine']}, {manifest['media_files']} media files)")
