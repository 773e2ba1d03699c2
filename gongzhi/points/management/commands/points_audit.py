"""gongzhi points_audit: recompute every balance from the ledger; exit 1 on any discrepancy."""

import sys

from django.core.management.base import BaseCommand

from gongzhi.points.models import Account, Entry
from gongzhi.points.services import audit_ledger


class Command(BaseCommand):
    help = "Recompute every points balance from its entries and report any account that disagrees."

    def handle(self, *args, **options):
        problems = audit_ledger()
        for p in problems:
            self.stdout.write(f"account {p['account']}: cached {p['cached']}, from entries {p['computed']}, "
                              f"last balance_after {p['last_balance_after']}")
        self.stdout.write(f"{Account.objects.count()} accounts, {Entry.objects.count()} entries, "
                          f"{len(problems)} discrepancies")
        if problems:
            sys.exit(1)
