"""gongzhi open311_key: issue an Open311 api_key for a login; the requests it posts are that login's appeals."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from gongzhi.accounts.models import ApiToken, User


class Command(BaseCommand):
    help = "Issue an Open311 api_key (an API token) for an existing login and print it once."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of the login the client submits as")
        parser.add_argument("--days", type=int, default=0, help="valid for this many days (default: until revoked)")

    def handle(self, *args, user, days, **options):
        account = User.objects.filter(username=user, is_active=True).first()
        if account is None:
            raise CommandError(f"no active login named {user}")
        if days < 0:
            raise CommandError("--days must be positive")
        key = ApiToken.issue(account, name="open311", lifetime=timedelta(days=days) if days else None)
        self.stdout.write(key)
        self.stderr.write(f"api_key for {account.username}; it is shown only this once")
