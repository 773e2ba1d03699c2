"""gongzhi open311_key: issue (or revoke) Open311 api_keys of a login; the requests it posts are that login's appeals."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from gongzhi.accounts.models import ApiToken, User

NAME = "open311"


class Command(BaseCommand):
    help = "Issue an Open311 api_key (an API token) for an existing login and print it once; or revoke its keys."

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="username of the login the client submits as")
        parser.add_argument("--days", type=int, default=0, help="valid for this many days (default: until revoked)")
        parser.add_argument("--revoke", action="store_true", help="delete every Open311 key of this login instead")

    def handle(self, *args, user, days, revoke, **options):
        account = User.objects.filter(username=user).first()
        if account is None:
            raise CommandError(f"no login named {user}")
        if revoke:
            deleted, _ = ApiToken.objects.filter(user=account, name=NAME).delete()
            self.stdout.write(f"revoked {deleted} Open311 key(s) of {account.username}")
            return
        if not account.is_active:
            raise CommandError(f"the login {user} is disabled")
        if days < 0:
            raise CommandError("--days must be positive")
        key = ApiToken.issue(account, name=NAME, lifetime=timedelta(days=days) if days else None)
        self.stdout.write(key)
        self.stderr.write(f"api_key for {account.username}; it is shown only this once")
