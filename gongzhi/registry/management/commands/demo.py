"""gongzhi demo: load the generated demo data once; a second run keeps what is there."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gongzhi.registry.demo import DEMO_PASSWORD, RESIDENT_PHONE, STAFF, build_demo, demo_exists, demo_totp_devices


class Command(BaseCommand):
    help = "Load demo places, households, organisations and logins (skipped if already loaded)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, seed, **options):
        if settings.PRODUCTION:
            raise CommandError("gongzhi demo creates well-known logins and never runs with GONGZHI_ENV=production.")
        if demo_exists():
            self.stdout.write("demo data already loaded; keeping it")
        else:
            summary = build_demo(seed)
            self.stdout.write(f"demo data loaded: {summary['households']} households, {summary['persons']} persons")
        self.stdout.write(f"demo logins (password {DEMO_PASSWORD}):")
        self.stdout.write("  admin            system administrator (/admin/)")
        for username, role, names, full_name in STAFF:
            self.stdout.write(f"  {username:<16} {full_name}")
        self.stdout.write("  buildinghead     building head, 滨湖社区 第一网格 1栋")
        self.stdout.write(f"  {RESIDENT_PHONE}      resident (log in with the phone number)")
        self.stdout.write("second factor (TOTP) for admin and staff above grid worker: add these demo secrets to any "
                          "authenticator app (scan or paste the otpauth URI):")
        for device in demo_totp_devices():
            self.stdout.write(f"  {device.user.username:<16} {device.config_url}")
