"""gongzhi audit verify | archive: check the audit trail's keyed-hash chain; move old entries into archive files."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gongzhi.core import audit


class Command(BaseCommand):
    help = "Verify the audit chain (non-zero exit at the first broken link) or archive entries past the retention."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="Check every entry and archive; report the first broken link.")
        archive = sub.add_parser("archive", help="Move entries older than the retention into var/audit/.")
        archive.add_argument("--days", type=int, default=None,
                             help=f"Retention in days (default GONGZHI_AUDIT_RETENTION_DAYS, "
                                  f"{settings.GONGZHI_AUDIT_RETENTION_DAYS}).")

    def handle(self, *args, action, **options):
        if action == "verify":
            problems = [f"archive {p}" for p in audit.verify_archives()]
            report = audit.verify()
            if not report.ok:
                problems.append(report.problem)
            if problems:
                raise CommandError("audit chain broken: " + "; ".join(problems))
            self.stdout.write(f"audit chain intact: {report.checked} live entries, head #{report.last_seq} "
                              f"{report.last_hash}")
            return
        try:
            archived = audit.archive(retention_days=options["days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        if archived is None:
            self.stdout.write("nothing older than the retention")
        else:
            self.stdout.write(f"archived {archived.count} entries (#{archived.first_seq}–#{archived.last_seq}) "
                              f"to {audit.archive_dir() / archived.file}")
