"""One form (一表通): import households and persons from the spreadsheet communities keep, and export it."""

import csv
import gc
import io
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from python_calamine import CalamineWorkbook

from gongzhi.core import audit
from gongzhi.core.crypto import encrypt_many, lookup_hash, mask_id_number, mask_phone
from gongzhi.core.bulk import Table
from gongzhi.core.models import AuditEvent
from gongzhi.places.models import GRID_KINDS, Kind, Place

from .models import Household, Person
from .services import clean_person_data, require

# (key, header as communities write it, required)
COLUMNS = [
    ("grid", "网格", False),
    ("estate", "小区/村民小组", False),
    ("building", "楼栋", False),
    ("unit", "单元", False),
    ("door_no", "房号/门牌号", True),
    ("area_m2", "建筑面积(㎡)", False),
    ("tenure", "居住性质", False),
    ("name", "姓名", True),
    ("relation", "与户主关系", True),
    ("id_number", "身份证号", True),
    ("phone", "手机号", False),
    ("ethnicity", "民族", False),
    ("political", "政治面貌", False),
    ("tags", "特殊人群", False),
    ("notes", "备注", False),
]
HEADERS = {header: key for key, header, _ in COLUMNS}
LABEL = {key: header for key, header, _ in COLUMNS}
# Spreadsheet words → stored values (the export writes the first word of each).
RELATIONS = {"户主": "head", "本人": "head", "配偶": "spouse", "妻": "spouse", "夫": "spouse", "子女": "child",
             "子": "child", "女": "child", "父母": "parent", "父亲": "parent", "母亲": "parent",
             "孙子女": "grandchild", "其他": "other", "租户": "tenant"}
POLITICAL = {"群众": "masses", "中共党员": "party_member", "党员": "party_member", "共青团员": "league_member",
             "团员": "league_member", "其他": "other"}
TENURE = {"自住": "owner", "自有": "owner", "租住": "tenant", "出租": "tenant", "其他": "other"}
MAX_ROWS = 200_000


def _first_word(mapping, value):
    return next((word for word, v in mapping.items() if v == value), "")


@dataclass
class RowError:
    row: int
    column: str
    message: str


@dataclass
class ImportReport:
    rows: int = 0
    households_created: int = 0
    households_updated: int = 0
    persons_created: int = 0
    persons_updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = True
    written: bool = False

    @property
    def ok(self):
        return not self.errors

    def as_dict(self):
        return {**{k: getattr(self, k) for k in ("rows", "households_created", "households_updated",
                                                 "persons_created", "persons_updated", "unchanged",
                                                 "dry_run", "written", "ok")},
                "errors": [e.__dict__ for e in self.errors]}


class FileRejected(ValidationError):
    """The file as a whole cannot be read (wrong type, no header, too big)."""


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def check_size(size: int):
    """Refuse a file over GONGZHI_IMPORT_MAX_BYTES; callers check before reading an upload into memory."""
    if size > settings.GONGZHI_IMPORT_MAX_BYTES:
        raise FileRejected(_("The file is larger than 20 MB; please split it."))


def _guarded(rows, message):
    """The parsers read lazily, row by row: a broken file can fail half-way, and that is the file's fault."""
    try:
        yield from rows
    except Exception:
        raise FileRejected(message) from None


def read_rows(upload_name: str, data: bytes):
    """(row number, cells) for each non-empty row, streamed: cells are texts in COLUMNS order ("" when the
    column is absent); the header row is matched by the Chinese headers, in any order."""
    name = upload_name.lower()
    if name.endswith(".xlsx"):
        unreadable = _("The file is not a readable .xlsx spreadsheet.")
        # calamine (Rust) reads cached cell values about 20 times faster than openpyxl's read-only mode.
        try:
            sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        except Exception:
            raise FileRejected(unreadable) from None
        raw = _guarded(sheet.iter_rows(), unreadable)
    elif name.endswith(".csv"):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise FileRejected(_("The CSV file is neither UTF-8 nor GBK encoded."))
        if "\x00" in text:
            raise FileRejected(_("The CSV file contains NUL (\\x00) characters; please save it again as a CSV."))
        raw = _guarded(csv.reader(io.StringIO(text)), _("The CSV file cannot be read: a line is malformed or a cell is too long."))
    else:
        raise FileRejected(_("Please upload an .xlsx or .csv file."))
    header = [_cell(v) for v in next(raw, None) or ()]
    if not header:
        raise FileRejected(_("The file is empty."))
    keys = [HEADERS.get(h.replace(" ", "")) for h in header]
    missing = [h for k, h, required in COLUMNS if required and k not in keys]
    if missing:
        raise FileRejected(_("Required columns are missing: %(cols)s. Please use the template.") % {"cols": "、".join(missing)})
    # Where each column is in the file (a repeated header: its last copy); absent ones read an always-empty cell.
    where = {k: i for i, k in enumerate(keys) if k}
    pick = [where.get(key, len(keys)) for key, _h, _r in COLUMNS]
    return _rows(raw, pick, len(keys))


def _rows(raw, pick, width):
    blank = [""] * (width + 1)
    number = 1
    for values in raw:
        values = [v.strip() if type(v) is str else _cell(v) for v in values]
        if not any(values):
            continue
        number += 1
        if number - 1 > MAX_ROWS:
            raise FileRejected(_("The file has more than %(n)s rows; please split it.") % {"n": MAX_ROWS})
        if len(values) != width:  # cells beyond the header are ignored, missing ones are empty
            values = (values + blank)[:width]
        values.append("")  # the cell of absent columns
        yield number, [values[i] for i in pick]


class _Places:
    """Buildings, units and grids of one community, looked up by name without a query per row."""

    def __init__(self, community: Place):
        self.by_parent_name = {}
        self.nodes = {}
        self.resolved = {}  # (grid, estate, building, unit) → (place, error): a file repeats few combinations
        for place in community.descendants(include_self=False).only("id", "kind", "name", "parent_id", "path"):
            self.nodes[place.pk] = place
            self.by_parent_name.setdefault(place.name, []).append(place)

    def find(self, name, kinds, within=None):
        candidates = [p for p in self.by_parent_name.get(name, []) if p.kind in kinds]
        if within is not None:
            candidates = [p for p in candidates if p.path.startswith(within.path)]
        return candidates

    def resolve(self, grid, estate, building, unit) -> tuple[Place | None, RowError | None]:
        key = (grid, estate, building, unit)
        if key not in self.resolved:
            self.resolved[key] = _resolve_place(self, {"grid": grid, "estate": estate, "building": building,
                                                       "unit": unit})[:2]
        return self.resolved[key]


def _resolve_place(places: _Places, row) -> tuple[Place | None, RowError | None, str]:
    within = None
    for key, kinds in (("grid", GRID_KINDS), ("estate", {Kind.ESTATE, Kind.VILLAGER_GROUP})):
        if row.get(key):
            found = places.find(row[key], kinds, within)
            if len(found) != 1:
                return None, RowError(0, LABEL[key], _("Unknown %(what)s: %(name)s") % {"what": LABEL[key], "name": row[key]}), key
            within = found[0]
    if row.get("building"):
        found = places.find(row["building"], {Kind.BUILDING}, within)
        if len(found) != 1:
            msg = _("Unknown building: %(name)s") if not found else _("Building %(name)s is ambiguous; fill in the grid or estate column.")
            return None, RowError(0, LABEL["building"], msg % {"name": row["building"]}), "building"
        within = found[0]
        if row.get("unit"):
            found = places.find(row["unit"], {Kind.UNIT}, within)
            if len(found) != 1:
                return None, RowError(0, LABEL["unit"], _("Unknown unit: %(name)s") % {"name": row["unit"]}), "unit"
            within = found[0]
    if within is None:
        return None, RowError(0, LABEL["building"], _("Fill in the building, or for rural households the villager group.")), "building"
    if within.kind == Kind.ESTATE:
        return None, RowError(0, LABEL["building"], _("Fill in the building within estate %(name)s.") % {"name": within.name}), "building"
    return within, None, ""


# What an import compares and writes, in this order in the plan. Encrypted values are compared by their lookup
# hash, so the existing register is never decrypted; the hash normalises the same way the validators do.
_WRITTEN = ("name", "gender", "birth_date", "id_number", "id_number_hash", "phone", "phone_hash", "relation",
            "ethnicity", "political", "tags", "notes")
_COMPARED = ("name", "gender", "birth_date", "id_number_hash", "phone_hash", "relation", "ethnicity", "political",
             "tags", "notes")
_COMPARED_AT = [_WRITTEN.index(k) for k in _COMPARED]
_ID_NUMBER, _ID_HASH, _PHONE = (_WRITTEN.index(k) for k in ("id_number", "id_number_hash", "phone"))
_REQUIRED = [(i, header) for i, (_k, header, required) in enumerate(COLUMNS) if required]
_BATCH = 2000
_ENCRYPT_BATCH = 5000


class _Plan:
    """Every row validated as it is read, reduced to what the writes need: households by (place id, door no)
    and persons as (row number, household key, values in _WRITTEN order with plain ID number and phone)."""

    def __init__(self, community, report):
        self.places = _Places(community)
        self.report = report
        self.households = {}  # (place_id, door_no) → {"place": …, "fields": {"area_m2", "tenure"}}
        self.persons = []
        self.seen_ids = {}  # ID hash → first row
        self.areas = {}  # cell text → Decimal or None when invalid
        self.existing_hh = {}  # (place_id, door_no) → Household
        self.existing_people = {}  # ID hash → _Existing

    def error(self, row, column, message):
        self.report.errors.append(RowError(row, column, message))

    def add(self, index, cells):
        (grid, estate, building, unit, door_no, area_text, tenure_text, name, relation_text, id_number, phone,
         ethnicity, political_text, tags, notes) = cells
        if not (door_no and name and relation_text and id_number):
            for i, header in _REQUIRED:
                if not cells[i]:
                    self.error(index, header, _("Required field is empty."))
            return
        place, place_error = self.places.resolve(grid, estate, building, unit)
        if place_error:
            return self.error(index, place_error.column, place_error.message)
        area = None
        if area_text:
            area = self.areas.get(area_text, False)
            if area is False:
                area = self.areas[area_text] = _area(area_text)
            if area is None:
                return self.error(index, LABEL["area_m2"], _("Floor area must be a positive number of square metres."))
        tenure = TENURE.get(tenure_text or "自住")
        relation = RELATIONS.get(relation_text)
        political = POLITICAL.get(political_text or "群众")
        if None in (tenure, relation, political):
            for value, column, text, mapping in ((tenure, "tenure", tenure_text, TENURE),
                                                 (relation, "relation", relation_text, RELATIONS),
                                                 (political, "political", political_text, POLITICAL)):
                if value is None:
                    self.error(index, LABEL[column], _("Unknown value %(value)s; use one of: %(choices)s")
                               % {"value": text, "choices": "、".join(mapping)})
            return
        try:
            cleaned = clean_person_data({"name": name, "id_number": id_number, "phone": phone, "relation": relation,
                                         "political": political, "ethnicity": ethnicity or "汉族", "tags": tags,
                                         "notes": notes})
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                self.error(index, LABEL.get(key, key), messages[0])
            return
        id_hash = lookup_hash(cleaned["id_number"])
        first = self.seen_ids.setdefault(id_hash, index)
        if first != index:
            return self.error(index, LABEL["id_number"], _("Duplicate person: same ID number as row %(row)s.") % {"row": first})
        key = (place.pk, door_no)
        entry = self.households.get(key)
        if entry is None:
            entry = self.households[key] = {"place": place, "fields": {"area_m2": None, "tenure": None}}
        fields, conflict = entry["fields"], False
        for column, value in (("area_m2", area), ("tenure", tenure if tenure_text else None)):
            if value is not None and fields[column] not in (None, value):
                self.error(index, LABEL[column], _("The same household has a different value on another row."))
                conflict = True
            elif value is not None:
                fields[column] = value
        if not conflict:
            phone = cleaned["phone"] or None
            self.persons.append((index, key, (cleaned["name"], cleaned["gender"], cleaned["birth_date"],
                                              cleaned["id_number"], id_hash, phone, lookup_hash(phone), relation,
                                              cleaned["ethnicity"], political, cleaned["tags"], cleaned["notes"])))


def _area(text) -> Decimal | None:
    try:
        area = Decimal(text).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return area if 0 < area <= 100000 else None


def _plan(user, community, rows, report) -> _Plan:
    """Validate every row and work out what would change, touching nothing."""
    plan = _Plan(community, report)
    for index, cells in rows:
        report.rows += 1
        plan.add(index, cells)
    if not plan.persons:
        return plan
    plan.existing_hh = {(h.place_id, h.door_no): h for h in
                        Household.objects.filter(place__path__startswith=community.path)
                        .only("id", "place_id", "door_no", "area_m2", "tenure")}
    plan.existing_people = _existing_people([values[_ID_HASH] for _i, _k, values in plan.persons])
    allowed = _places_user_may_edit(user, {p.place_id for p in plan.existing_people.values() if p.place_id})
    for index, _key, values in plan.persons:
        person = plan.existing_people.get(values[_ID_HASH])
        if person and person.place_id and person.place_id not in allowed:
            report.errors.append(RowError(index, LABEL["id_number"],
                                          _("This person is registered in another community outside your area.")))
    return plan


@dataclass
class _Existing:
    pk: int
    household_id: int | None
    place_id: int | None
    values: tuple


def _existing_people(hashes) -> dict[str, _Existing]:
    """The persons already registered under these ID hashes, anywhere, without decrypting anything."""
    person, household = Person._meta.db_table, Household._meta.db_table
    columns = ", ".join(f"p.{Person._meta.get_field(k).column}" for k in _COMPARED)
    sql = (f"SELECT p.id, p.household_id, h.place_id, {columns} FROM {person} p "
           f"LEFT JOIN {household} h ON h.id = p.household_id WHERE p.id_number_hash ")
    postgres = connection.vendor == "postgresql"
    size = 20000 if postgres else 500  # one array parameter on PostgreSQL; SQLite limits bound parameters
    found = {}
    born, hashed = _COMPARED.index("birth_date"), _COMPARED.index("id_number_hash")
    with connection.cursor() as cursor:
        for start in range(0, len(hashes), size):
            chunk = hashes[start:start + size]
            if postgres:
                cursor.execute(sql + "= ANY(%s)", [chunk])
            else:
                cursor.execute(sql + f"IN ({', '.join(['%s'] * len(chunk))})", chunk)
            for pk, household_id, place_id, *values in cursor.fetchall():
                values[born] = _as_date(values[born])
                found[values[hashed]] = _Existing(pk, household_id, place_id, tuple(values))
    return found


def _as_date(value):
    return date.fromisoformat(value) if isinstance(value, str) else value  # SQLite returns text from raw SQL


def _places_user_may_edit(user, place_ids) -> set[int]:
    places = Place.objects.filter(pk__in=place_ids).only("id", "path")
    return {p.pk for p in places if user.scope.covers(p, _editor_roles())}


def _editor_roles():
    from gongzhi.accounts.roles import REGISTER_EDIT_ROLES
    return REGISTER_EDIT_ROLES


def import_register(user, community: Place, upload_name: str, data: bytes, *, dry_run: bool, request=None) -> ImportReport:
    """Validate the whole file; write all of it in one transaction only if every row is valid."""
    require(user, "registry.import_register", community)
    report = ImportReport(dry_run=dry_run)
    check_size(len(data))
    rows = read_rows(upload_name, data)
    with transaction.atomic(), _collector_paused():
        plan = _plan(user, community, rows, report)
        if report.errors:
            report.errors.sort(key=lambda e: e.row)
            return report
        del rows  # the plan holds what is needed; the parsed sheet goes before the writes
        households = _write_households(plan, community, report, dry_run)
        _write_persons(plan, households, report, dry_run)
        if not dry_run:
            report.written = True
            audit.record(AuditEvent.Action.IMPORT, request=request, user=user, obj=community,
                         detail=f"{upload_name}: {report.rows} rows, +{report.persons_created} persons, "
                                f"~{report.persons_updated} updated")
    return report


@contextmanager
def _collector_paused():
    """The import makes hundreds of thousands of small containers and no reference cycles; Python's cycle
    collector would rescan them all again and again (about a fifth of the import's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _write_households(plan, community, report, dry_run) -> dict:
    """Create (streamed: COPY on PostgreSQL) and update the households; returns their ids by (place id, door no),
    None for households not written (dry run)."""
    ids, created, updated = {}, [], []
    now = timezone.now()
    for key, item in plan.households.items():
        household = plan.existing_hh.get(key)
        fields = {k: v for k, v in item["fields"].items() if v is not None}
        if household is None:
            created.append((key[0], key[1], fields.get("area_m2"), fields.get("tenure", Household.Tenure.OWNER)))
            ids[key] = None
            continue
        if any(getattr(household, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(household, k, v)
            household.updated_at = now  # bulk_update does not apply auto_now
            updated.append(household)
        ids[key] = household.pk
    report.households_created, report.households_updated = len(created), len(updated)
    if dry_run:
        return ids
    table = Table(Household, ["place_id", "door_no", "area_m2", "tenure", "created_at", "updated_at"])
    for row in created:
        table.add((*row, now, now))
    table.flush()
    Household.objects.bulk_update(updated, ["area_m2", "tenure", "updated_at"], batch_size=_BATCH)
    if created:  # the new rows' ids: one query instead of RETURNING row by row
        new = {key for key, pk in ids.items() if pk is None}
        for pk, place_id, door_no in (Household.objects.filter(place__path__startswith=community.path)
                                      .values_list("id", "place_id", "door_no").iterator(chunk_size=10000)):
            if (place_id, door_no) in new:
                ids[(place_id, door_no)] = pk
    return ids


def _write_persons(plan, households, report, dry_run):
    """Create new persons (streamed: COPY on PostgreSQL, encrypted in batches) and update changed ones in
    batches. Bulk writes skip Person.save, so the ciphertexts and lookup hashes are set here."""
    now = timezone.now()
    table = Table(Person, ["household_id", *_WRITTEN, "created_at", "updated_at"])
    with nullcontext() if dry_run else table.streaming():
        updated = _stream_persons(plan, households, report, None if dry_run else table, now)
    if not dry_run:
        # Few rows change on a re-import; bulk_update's CASE per field grows with the batch, so keep it small.
        Person.objects.bulk_update(updated, [*_WRITTEN, "household", "updated_at"], batch_size=500)


def _stream_persons(plan, households, report, table, now) -> list[Person]:
    """Count what changes; add the new persons to the table (None: dry run); return the persons to update."""
    new, updated = [], []
    for _index, key, values in plan.persons:
        target = households[key]
        person = plan.existing_people.get(values[_ID_HASH])
        if person is None:
            report.persons_created += 1
            if table is not None:
                new.append((target, values))
                if len(new) >= _ENCRYPT_BATCH:
                    _add_encrypted(table, new, now)
        elif (person.values != tuple(values[i] for i in _COMPARED_AT)
              or target is None or person.household_id != target):
            report.persons_updated += 1
            if table is not None:
                updated.append(Person(pk=person.pk, household_id=target, updated_at=now, **dict(zip(_WRITTEN, values))))
        else:
            report.unchanged += 1
    if table is not None:
        _add_encrypted(table, new, now)
    return updated


def _add_encrypted(table, new, now):
    """Encrypt one batch of new persons' ID numbers and phones together and queue their rows; empties `new`."""
    plain = [values[_ID_NUMBER] for _t, values in new] + [values[_PHONE] for _t, values in new if values[_PHONE]]
    tokens = iter(encrypt_many(plain))
    id_tokens = [next(tokens) for _ in new]
    for (target, values), id_token in zip(new, id_tokens):
        row = list(values)
        row[_ID_NUMBER] = id_token
        if row[_PHONE]:
            row[_PHONE] = next(tokens)
        table.add((target, *row, now, now))
    new.clear()


def _row_for(person: Person, full: bool) -> list:
    household = person.household
    chain = {p.kind: p.name for p in household.place.ancestors() + [household.place]}
    return [
        chain.get(Kind.GRID) or chain.get(Kind.VILLAGER_GROUP, ""),
        chain.get(Kind.ESTATE, ""),
        chain.get(Kind.BUILDING, ""),
        chain.get(Kind.UNIT, ""),
        household.door_no,
        float(household.area_m2) if household.area_m2 is not None else "",
        _first_word(TENURE, household.tenure),
        person.name,
        _first_word(RELATIONS, person.relation),
        person.id_number if full else mask_id_number(person.id_number),
        (person.phone if full else mask_phone(person.phone)) or "",
        person.ethnicity,
        _first_word(POLITICAL, person.political),
        person.tags,
        person.notes if full else "",  # free text may hold anything: only in full exports
    ]


def export_register(user, place: Place, *, full: bool = False, request=None) -> bytes:
    """The register under a place in the import layout; masked unless the user may export full data."""
    require(user, "registry.export_register", place)
    if full:
        require(user, "registry.export_full", place)
    # Minimised: anonymised records have nothing left to work with and stay out of working lists.
    people = (user.scope.filter(Person.objects.filter(household__place__path__startswith=place.path,
                                                      anonymised_at__isnull=True),
                                path_field="household__place__path")
              .select_related("household__place").order_by("household__place__path", "household__door_no", "id"))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("一表通")
    ws.append([header for _k, header, _r in COLUMNS])
    ancestors_cache = {}
    for person in people.iterator(chunk_size=2000):
        place_id = person.household.place_id
        if place_id not in ancestors_cache:
            ancestors_cache[place_id] = person.household.place.ancestors()
        person.household.place.ancestors = lambda cached=ancestors_cache[place_id]: cached
        ws.append(_row_for(person, full))
    buffer = io.BytesIO()
    wb.save(buffer)
    audit.record(AuditEvent.Action.EXPORT, request=request, user=user, obj=place,
                 detail=f"register export, {'full' if full else 'masked'}")
    return buffer.getvalue()


def template_workbook() -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "一表通"
    ws.append([header for _k, header, _r in COLUMNS])
    for index, (_k, _h, required) in enumerate(COLUMNS, start=1):
        ws.cell(row=1, column=index).font = Font(bold=required)
        ws.column_dimensions[ws.cell(row=1, column=index).column_letter].width = 16
    notes = wb.create_sheet("填写说明")
    notes.append(["列", "必填", "说明"])
    help_text = {
        "grid": "所在网格名称；楼栋重名时必填", "estate": "小区或村民小组名称", "building": "楼栋名称，须已在系统中建立；农村住户可留空并填写网格/村民小组",
        "unit": "单元名称，须已建立", "door_no": "房号或门牌号，同一楼栋/单元内唯一", "area_m2": "数字，平方米",
        "tenure": "、".join(TENURE), "name": "", "relation": "、".join(RELATIONS), "id_number": "18位居民身份证号码（校验位会检查）",
        "phone": "11位手机号或带区号固话", "ethnicity": "默认汉族", "political": "、".join(POLITICAL),
        "tags": "如：独居老人、残疾人、低保户，用逗号分隔", "notes": "",
    }
    for key, header, required in COLUMNS:
        notes.append([header, "是" if required else "", help_text[key]])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
