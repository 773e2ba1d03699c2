"""Run as a separate process by test_sqlite_durability: writes households through the service, printing each ack."""

import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
django.setup()

from gongzhi.accounts.models import User  # noqa: E402
from gongzhi.places.models import Place  # noqa: E402
from gongzhi.registry.services import create_household  # noqa: E402

mode, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "pragmas":
    from django.db import connection
    with connection.cursor() as cursor:
        print(*(cursor.execute(f"PRAGMA {p}").fetchone()[0] for p in ("journal_mode", "synchronous")))
elif mode == "setup":
    from gongzhi.places.models import Kind
    from gongzhi.places.services import create_place
    top = create_place(kind=Kind.PROVINCE, name="测试省")
    city = create_place(kind=Kind.CITY, name="测试市", parent=top)
    district = create_place(kind=Kind.DISTRICT, name="测试区", parent=city)
    sub = create_place(kind=Kind.SUBDISTRICT, name="测试街道", parent=district)
    community = create_place(kind=Kind.COMMUNITY, name="测试社区", parent=sub)
    grid = create_place(kind=Kind.GRID, name="测试网格", parent=community)
    create_place(kind=Kind.BUILDING, name="1栋", parent=grid)
    User.objects.create_superuser("root", password="x")
    print("ready", flush=True)
else:
    user = User.objects.get(username="root")
    building = Place.objects.get(name="1栋")
    for i in range(count):
        create_household(user, place=building, door_no=f"{worker}-{i}")
        print(f"ack {worker}-{i}", flush=True)  # acknowledged only after commit
