"""gongzhi adduser: create a staff or resident login with a role at a place (by division code or id)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from gongzhi.accounts.roles import Role
from gongzhi.accounts.services import create_user
from gongzhi.places.models import Place


class Command(BaseCommand):
    help = "Create a user, optionally with a role held at a place."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--password", required=True)
        parser.add_argument("--name", default="")
        parser.add_argument("--phone", default="")
        parser.add_argument("--role", choices=Role.values)
        parser.add_argument("--place", help="12-digit division code or place id")
        parser.add_argument("--department", default="")

    def handle(self, *args, username, password, name, phone, role, place, department, **options):
        node = None
        if place:
            node = Place.objects.filter(code=place).first() or (Place.objects.filter(pk=place).first() if place.isdigit() else None)
            if node is None:
                raise CommandError(f"no place with code or id {place}")
        try:
            user = create_user(username=username, password=password, full_name=name, phone=phone, role=role,
                               place=node, department=department)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"created {user.username}")
