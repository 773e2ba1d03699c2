"""Synthetic, deterministic city-scale dataset for benchmarks, streamed straight into the configured database."""

import json
import math
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.models import Max

from gongzhi.core.bulk import Table
from gongzhi.core.crypto import encrypt, lookup_hash
from gongzhi.core.validators import id_check_digit


@dataclass(frozen=True)
class Scale:
    districts: int
    subdistricts: tuple[int, int]   # per district (alternating, so 12 districts × 12/13 ≈ 150)
    communities: int                # per subdistrict
    grids: int                      # per community
    buildings: tuple[int, int]      # per grid (inclusive range)
    units: tuple[int, int]          # per building
    floors: tuple[int, int]         # per unit; two doors a floor
    appeals_per_person: float = 0.3  # Beijing 12345: ~11M appeals for ~22M people a year
    points_share: float = 0.1       # households with a points account
    residents: int = 200            # resident logins (for intake clients)


SCALES = {
    "tiny": Scale(1, (1, 1), 2, 2, (1, 2), (1, 2), (1, 2), appeals_per_person=1.0, points_share=0.5, residents=5),
    "small": Scale(1, (2, 2), 4, 4, (4, 8), (1, 3), (6, 13)),
    "district": Scale(1, (12, 13), 10, 10, (4, 8), (1, 3), (6, 13)),
    "city": Scale(12, (12, 13), 10, 10, (4, 8), (1, 3), (6, 13)),
}

PASSWORD = "Gongzhi@2026"
PROVINCE = ("420000000000", "湖北省")
CITY = ("420100000000", "武汉市")
DISTRICTS = [("420102", "江岸区"), ("420103", "江汉区"), ("420104", "硚口区"), ("420105", "汉阳区"),
             ("420106", "武昌区"), ("420107", "青山区"), ("420111", "洪山区"), ("420112", "东西湖区"),
             ("420113", "汉南区"), ("420114", "蔡甸区"), ("420115", "江夏区"), ("420116", "黄陂区")]
# Distinct characters: _name() is then one-to-one for index < len(SYLLABLES) ** 2 (names unique in a parent).
SYLLABLES = "".join(dict.fromkeys("安宁和平兴华新民建设幸福长青永丰光明东湖南西园北苑花桥水果古田滨江汉百步红旗"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅建国志文斌鹏飞宇浩然欣怡子涵梓萱"
# Grid lattice: cells of ~400 m × 330 m from a corner in Wuhan.
ORIGIN = (114.10, 30.40)
CELL = (0.004, 0.003)
ID_DAYS = 80 * 365 + 20        # birth dates from 1940-01-01 on
ID_SLOTS = ID_DAYS * 999        # (birth day, sequence) pairs per region code
ID_STEP = 7_368_787             # prime and coprime with ID_SLOTS: person index → slot is a bijection
POOL = 2_000                   # distinct ciphertexts per encrypted column (Fernet costs ~25 µs a value)


def person_id_number(region: str, index: int) -> str:
    """A valid 18-digit ID number, unique per (region, index) for index < ID_SLOTS."""
    slot = (index * ID_STEP + 12_345) % ID_SLOTS
    born = date(1940, 1, 1) + timedelta(days=slot // 999)
    first17 = f"{region}{born:%Y%m%d}{slot % 999 + 1:03d}"
    return first17 + id_check_digit(first17)


class _CipherPool:
    """The first POOL values are encrypted for real; later rows reuse those ciphertexts (documented in
    docs/scaling.md): the hash columns stay exact and unique, only the decrypted text repeats."""

    def __init__(self):
        self.tokens = []

    def __call__(self, index: int, value: str) -> str:
        if index < POOL:
            token = encrypt(value)
            self.tokens.append(token)
            return token
        return self.tokens[index % len(self.tokens)]


def _next_id(model) -> int:
    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1


def _name(index: int, suffix: str) -> str:
    n = len(SYLLABLES)
    return SYLLABLES[index % n] + SYLLABLES[(index // n + index) % n] + suffix


def _square(col, row):
    x0, y0 = ORIGIN[0] + col * CELL[0], ORIGIN[1] + row * CELL[1]
    x1, y1 = x0 + CELL[0], y0 + CELL[1]
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


class Generator:
    def __init__(self, scale: str, seed: int = 1, out=print, now=None):
        from gongzhi.places.models import Place
        self.scale_name, self.scale, self.seed, self.out = scale, SCALES[scale], seed, out
        self.rng = random.Random(seed)
        self.now = now or datetime.now(dt_timezone.utc).replace(microsecond=0)
        self.timings = {}
        self.counts = {}
        self.hash = lookup_hash
        self.place_id = _next_id(Place)
        self.grids = []          # dicts: id, path, community, subdistrict, district, bbox, person range
        self.communities = []    # (id, path, subdistrict id)
        self.subdistricts = []   # (id, path)
        self.districts = []      # (id, path, code)

    # -- helpers

    def _timed(self, label, fn):
        started = time.perf_counter()
        with transaction.atomic():
            count = fn()
        seconds = time.perf_counter() - started
        self.timings[label] = round(seconds, 2)
        self.counts[label] = count
        self.out(f"{label:<22}{count:>12,} rows {seconds:8.1f} s  {count / seconds if seconds else 0:>10,.0f} rows/s")

    def run(self):
        from gongzhi.appeals.defaults import seed as seed_categories
        from gongzhi.appeals.models import Category
        seed_categories(Category)
        started = time.perf_counter()
        self._timed("places", self.places)
        self._timed("households", self.households)
        self._timed("persons", self.persons)
        self._timed("users+roles", self.users)
        self._timed("appeals+events", self.appeals)
        self._timed("points", self.points)
        self._finish()
        self.timings["total"] = round(time.perf_counter() - started, 2)
        self.out(f"{'total':<22}{'':>12} {self.timings['total']:13.1f} s")
        return {"scale": self.scale_name, "seed": self.seed, "seconds": self.timings, "rows": self.counts}

    def _finish(self):
        from django.apps import apps
        from gongzhi.appeals.services import refresh_rollups
        models = [m for m in apps.get_models() if m._meta.app_label in
                  {"places", "registry", "accounts", "appeals", "points"}]
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(sql)
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE")
        from gongzhi.places.geo import grid_index
        grid_index.invalidate()
        self._timed("appeal rollup", lambda: refresh_rollups(rebuild=True)["rows"])

    # -- places: the division tree as places.services.create_place makes it (codes, "/id/…/" paths, depth)

    def places(self):
        from gongzhi.places.models import Kind, Place
        from gongzhi.places.services import create_place
        province = Place.objects.filter(code=PROVINCE[0]).first() or create_place(
            kind=Kind.PROVINCE, name=PROVINCE[1], code=PROVINCE[0])
        city = Place.objects.filter(code=CITY[0]).first() or create_place(
            kind=Kind.CITY, name=CITY[1], code=CITY[0], parent=province)
        if Place.objects.filter(code=DISTRICTS[0][0] + "000000").exists():
            raise ValueError(f"{DISTRICTS[0][1]} already exists: generate into an empty database")
        self.place_id = _next_id(Place)
        s, rng = self.scale, self.rng
        table = Table(Place, ["id", "kind", "name", "code", "parent_id", "path", "depth", "boundary", "latitude",
                              "longitude", "address", "updated_at"])
        total_grids = sum(s.subdistricts[d % 2] for d in range(s.districts)) * s.communities * s.grids
        cols = max(1, math.ceil(math.sqrt(total_grids * 1.5)))
        self.buildings, self.units = [], []

        def add(kind, name, parent_id, parent_path, depth, code="", boundary=None, lat=None, lng=None):
            pid = self.place_id
            self.place_id += 1
            path = f"{parent_path}{pid}/"
            table.add((pid, kind, name, code, parent_id, path, depth,
                       json.dumps(boundary) if boundary else None, lat, lng, "", self.now))
            return pid, path

        grid_no = 0
        for d in range(s.districts):
            code6, dname = DISTRICTS[d]
            did, dpath = add(Kind.DISTRICT, dname, city.pk, city.path, 2, code6 + "000000")
            self.districts.append((did, dpath, code6))
            for si in range(s.subdistricts[d % 2]):
                scode = f"{code6}{si + 1:03d}"
                sid, spath = add(Kind.SUBDISTRICT, _name(d * 31 + si, "街道"), did, dpath, 3, scode + "000")
                self.subdistricts.append((sid, spath))
                for ci in range(s.communities):
                    cid, cpath = add(Kind.COMMUNITY, _name(si * 17 + ci, "社区"), sid, spath, 4,
                                     f"{scode}{ci + 1:03d}")
                    self.communities.append((cid, cpath, sid))
                    for gi in range(s.grids):
                        col, row = grid_no % cols, grid_no // cols
                        boundary = _square(col, row)
                        x0, y0 = boundary["coordinates"][0][0]
                        gid, gpath = add(Kind.GRID, f"第{gi + 1}网格", cid, cpath, 5, boundary=boundary,
                                         lat=y0 + CELL[1] / 2, lng=x0 + CELL[0] / 2)
                        grid = {"id": gid, "path": gpath, "community": cid, "subdistrict": sid, "district": did,
                                "region": code6, "bbox": (x0, y0), "units": []}
                        self.grids.append(grid)
                        grid_no += 1
                        for bi in range(rng.randint(*s.buildings)):
                            bid, bpath = add(Kind.BUILDING, f"{bi + 1}栋", gid, gpath, 6,
                                             lat=y0 + rng.random() * CELL[1], lng=x0 + rng.random() * CELL[0])
                            for ui in range(rng.randint(*s.units)):
                                uid, _p = add(Kind.UNIT, f"{ui + 1}单元", bid, bpath, 7)
                                grid["units"].append((uid, rng.randint(*s.floors)))
        table.flush()
        return table.count

    # -- households: two doors a floor in every unit

    def households(self):
        from gongzhi.registry.models import Household
        table = Table(Household, ["id", "place_id", "door_no", "area_m2", "tenure", "notes", "created_at",
                                  "updated_at"])
        hid = self.household_id0 = _next_id(Household)
        rng = self.rng
        tenures = ["owner"] * 16 + ["tenant"] * 3 + ["other"]
        for grid in self.grids:
            grid["households"] = hid
            for unit_id, floors in grid["units"]:
                for floor in range(1, floors + 1):
                    for door in (1, 2):
                        table.add((hid, unit_id, f"{floor}{door:02d}", Decimal(rng.randint(4500, 15000)) / 100,
                                   rng.choice(tenures), "", self.now, self.now))
                        hid += 1
            grid["households_end"] = hid
        table.flush()
        self.household_end = hid
        return table.count

    # -- persons: 1–5 per household, valid unique ID numbers, encrypted ID/phone from a ciphertext pool

    def persons(self):
        from gongzhi.registry.models import Person
        table = Table(Person, ["id", "household_id", "name", "gender", "birth_date", "id_number", "id_number_hash",
                               "phone", "phone_hash", "relation", "ethnicity", "political", "tags", "notes",
                               "created_at", "updated_at"])
        pid = self.person_id0 = _next_id(Person)
        rng, index = self.rng, 0
        id_pool, phone_pool = _CipherPool(), _CipherPool()
        sizes, weights = [1, 2, 3, 4, 5], [15, 28, 27, 18, 12]
        relations = ["head", "spouse", "child", "parent", "grandchild"]
        region_counts = {}
        for grid in self.grids:
            grid["persons"] = pid
            region = grid["region"]
            for household_id in range(grid["households"], grid["households_end"]):
                for member in range(rng.choices(sizes, weights)[0]):
                    local = region_counts.get(region, 0)
                    region_counts[region] = local + 1
                    id_number = person_id_number(region, local)
                    phone = None
                    if rng.random() < 0.7:
                        phone = f"1{rng.choice('35789')}{(index * 7919 + self.seed) % 10 ** 9:09d}"
                    tags = "独居老人" if rng.random() < 0.02 else ""
                    political = "party_member" if rng.random() < 0.07 else "masses"
                    table.add((pid, household_id, rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                               "M" if int(id_number[16]) % 2 else "F",
                               date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])),
                               id_pool(index, id_number), self.hash(id_number),
                               phone_pool(index, phone) if phone else None, self.hash(phone) if phone else None,
                               relations[member], "汉族", political, tags, "", self.now, self.now))
                    pid += 1
                    index += 1
            grid["persons_end"] = pid
        table.flush()
        self.person_end = pid
        return table.count

    # -- logins: a worker per grid, two per community, an officer per subdistrict and district; residents

    def users(self):
        from gongzhi.accounts.models import RoleAssignment, User
        from gongzhi.accounts.roles import Role
        password = make_password(PASSWORD)  # one hash for all: PBKDF2 per user would take hours at city scale
        users, roles = [], []
        uid = _next_id(User)

        def add(username, full_name, role=None, place_id=None, person_id=None):
            nonlocal uid
            users.append(User(id=uid, username=username, full_name=full_name, password=password,
                              person_id=person_id, date_joined=self.now))
            if role:
                roles.append(RoleAssignment(user_id=uid, role=role, place_id=place_id))
            uid += 1
            return uid - 1

        for did, _path, code in self.districts:
            add(f"bureau{code}", "民政局干部", Role.BUREAU_OFFICER, did)
        for n, (sid, _path) in enumerate(self.subdistricts):
            add(f"sub{n + 1}", "街道干部", Role.SUBDISTRICT_OFFICER, sid)
        for n, (cid, _path, _sid) in enumerate(self.communities):
            add(f"cw{n + 1}", "社区工作者", Role.COMMUNITY_WORKER, cid)
            add(f"sec{n + 1}", "社区书记", Role.COMMUNITY_SECRETARY, cid)
        for n, grid in enumerate(self.grids):
            add(f"gw{n + 1}", "网格员", Role.GRID_WORKER, grid["id"])
        for n in range(self.scale.residents):
            grid = self.grids[n % len(self.grids)]
            add(f"res{n + 1}", "居民", Role.RESIDENT, grid["id"], person_id=grid["persons"] + n // len(self.grids))
        User.objects.bulk_create(users, batch_size=5000)
        RoleAssignment.objects.bulk_create(roles, batch_size=5000)
        return len(users) + len(roles)

    # -- appeals over the past year, each with its history as the services would have written it

    def appeals(self):
        from gongzhi.appeals.models import Appeal, AppealEvent, Category
        leaves = [c for c in Category.objects.filter(active=True) if not c.children.exists()]
        atable = Table(Appeal, ["id", "kind", "category_id", "title", "description", "place_id", "tier",
                                "handler_place_id", "department", "latitude", "longitude", "address", "source",
                                "reporter_person_id", "contact_name", "contact_phone", "urgency", "status",
                                "status_before_hold", "photo", "resolution", "rating", "rating_note",
                                "reopen_count", "escalation_count", "overdue", "accept_due", "response_due",
                                "resolve_due", "paused_seconds", "created_at", "accepted_at", "responded_at",
                                "resolved_at", "closed_at", "updated_at"])
        etable = Table(AppealEvent, ["id", "appeal_id", "at", "action", "from_status", "to_status", "tier",
                                     "place_id", "note"])
        rng = self.rng
        total = max(len(self.grids), round((self.person_end - self.person_id0) * self.scale.appeals_per_person))
        aid, eid = _next_id(Appeal), _next_id(AppealEvent)
        self.appeal_id0 = aid
        phones = _CipherPool()
        kinds = ["complaint"] * 4 + ["help"] * 3 + ["inquiry"] * 2 + ["report", "suggestion", "dispute"]
        hour = timedelta(hours=1)
        for n in range(total):
            grid = rng.choice(self.grids)
            cat = rng.choice(leaves)
            tier = cat.default_tier if cat.default_tier != "department" else "subdistrict"
            handler = {"grid": grid["id"], "community": grid["community"], "subdistrict": grid["subdistrict"]}[tier]
            created = self.now - timedelta(seconds=rng.randrange(365 * 86400))
            age_h = (self.now - created).total_seconds() / 3600
            urgency = "danger" if rng.random() < 0.03 else "normal"
            response_h = 2 if urgency == "danger" else cat.response_hours
            resolve_h = min(cat.resolve_hours, 24) if urgency == "danger" else cat.resolve_hours
            x0, y0 = grid["bbox"]
            lat, lng = y0 + (0.05 + 0.9 * rng.random()) * CELL[1], x0 + (0.05 + 0.9 * rng.random()) * CELL[0]
            events = [(created, "submit", "", "submitted", "")]
            status, accepted = "submitted", None
            responded = resolved = closed = None
            rating, resolution = "", ""
            t_accept = created + hour * rng.uniform(0.1, 3)
            if t_accept < self.now:
                accepted, status = t_accept, "accepted"
                events.append((accepted, "accept", "submitted", "accepted", ""))
                t_start = accepted + hour * rng.uniform(0.5, response_h * 1.2)
                if t_start < self.now:
                    responded, status = t_start, "in_progress"
                    events.append((responded, "start", "accepted", "in_progress", ""))
                    t_res = responded + hour * rng.uniform(1, resolve_h * 1.15)
                    if t_res < self.now:
                        resolved, status, resolution = t_res, "resolved", "已处理完毕"
                        events.append((resolved, "resolve", "in_progress", "resolved", resolution))
                        t_rate = resolved + hour * rng.uniform(1, 72)
                        if t_rate < self.now:
                            rating = rng.choices(["satisfied", "basically", "unsatisfied"], [78, 14, 8])[0]
                            closed, status = t_rate, "closed"
                            events.append((closed, "rate", "resolved", "closed", ""))
            overdue = bool((resolved or self.now) > created + hour * resolve_h) and age_h > resolve_h
            phone = f"13{(n * 104729 + self.seed) % 10 ** 9:09d}"
            reporter = rng.randrange(grid["persons"], grid["persons_end"]) if grid["persons_end"] > grid["persons"] else None
            atable.add((aid, rng.choice(kinds), cat.pk, f"{cat.name}问题", f"{cat.name}：居民反映的问题，请尽快处理。",
                        grid["id"], tier, handler, cat.department if tier == "subdistrict" else "", lat, lng, "",
                        rng.choice(["web", "phone", "grid", "api"]), reporter, "居民", phones(n, phone), urgency,
                        status, "", "", resolution, rating, "", 0, 0, overdue, created + 2 * hour,
                        created + hour * response_h, created + hour * resolve_h, 0, created, accepted, responded,
                        resolved, closed, closed or resolved or responded or accepted or created))
            for at, action, before, after, note in events:
                etable.add((eid, aid, at, action, before, after, tier, handler, note))
                eid += 1
            aid += 1
        atable.flush()
        etable.flush()
        self.counts["appeal events"] = etable.count
        return atable.count

    # -- points: household accounts with an append-only ledger whose running balance matches the cache

    def points(self):
        from gongzhi.points.models import Account, Entry
        from gongzhi.registry.models import Household
        rng = self.rng
        accounts = Table(Account, ["id", "kind", "household_id", "place_id", "balance", "created_at"])
        entries = Table(Entry, ["id", "account_id", "kind", "amount", "balance_after", "reason", "source_type",
                                "source_id", "actor_id", "created_at", "idempotency_key"])
        acc_id, ent_id = _next_id(Account), _next_id(Entry)
        step = max(1, round(1 / self.scale.points_share))
        hh = Household.objects.filter(pk__gte=self.household_id0, pk__lt=self.household_end)
        for household_id, place_id in hh.values_list("id", "place_id").order_by("id").iterator(chunk_size=20000):
            if household_id % step:
                continue
            balance, at = 0, self.now - timedelta(days=rng.randint(30, 365))
            for _ in range(rng.randint(1, 6)):
                at += timedelta(hours=rng.randint(1, 700))
                amount = rng.choice([5, 10, 10, 20]) if balance < 10 or rng.random() < 0.8 else -rng.randint(1, balance)
                balance += amount
                entries.add((ent_id, acc_id, "award" if amount > 0 else "spend", amount, balance,
                             "志愿服务" if amount > 0 else "积分超市兑换", "gen", str(acc_id), None, min(at, self.now),
                             f"gen:{ent_id}"))
                ent_id += 1
            accounts.add((acc_id, "household", household_id, place_id, balance, self.now))
            acc_id += 1
        accounts.flush()
        entries.flush()
        self.counts["points entries"] = entries.count
        return accounts.count


def generate(scale: str, seed: int = 1, out=print, now=None) -> dict:
    return Generator(scale, seed, out, now).run()
