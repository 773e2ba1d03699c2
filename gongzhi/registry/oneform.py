"""One form (一表通): import households and persons from the spreadsheet communities keep, and export it."""

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from python_calamine import CalamineWorkbook

from gongzhi.core import audit
from gongzhi.core.crypto import encrypt, lookup_hash, mask_id_number, mask_phone
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


def read_rows(upload_name: str, data: bytes) -> list[dict]:
    """Rows as {column key: text}; the header row is matched by the Chinese headers, in any order."""
    name = upload_name.lower()
    if name.endswith(".xlsx"):
        unreadable = _("The file is not a readable .xlsx spreadsheet.")
        # calamine (Rust) reads cached cell values about 20 times faster than openpyxl's read-only mode.
        try:
            sheet = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0)
        except Exception:
            raise FileRejected(unreadable) from None
        raw = _guarded(([_cell(v) for v in row] for row in sheet.iter_rows()), unreadable)
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
        raw = _guarded(([c.strip() for c in row] for row in csv.reader(io.StringIO(text))),
                       _("The CSV file cannot be read: a line is malformed or a cell is too long."))
    else:
        raise FileRejected(_("Please upload an .xlsx or .csv file."))
    header = next(raw, None)
    if not header:
        raise FileRejected(_("The file is empty."))
    keys = [HEADERS.get(h.replace(" ", "")) for h in header]
    missing = [h for k, h, required in COLUMNS if required and k not in keys]
    if missing:
        raise FileRejected(_("Required columns are missing: %(cols)s. Please use the template.") % {"cols": "、".join(missing)})
    rows = []
    for values in raw:
        if not any(values):
            continue
        rows.append({k: v for k, v in zip(keys, values) if k})
        if len(rows) > MAX_ROWS:
            raise FileRejected(_("The file has more than %(n)s rows; please split it.") % {"n": MAX_ROWS})
    return rows


class _Places:
    """Buildings, units and grids of one community, looked up by name without a query per row."""

    def __init__(self, community: Place):
        self.by_parent_name = {}
        self.nodes = {}
        for place in community.descendants(include_self=False).only("id", "kind", "name", "parent_id", "path"):
            self.nodes[place.pk] = place
            self.by_parent_name.setdefault(place.name, []).append(place)

    def find(self, name, kinds, within=None):
        candidates = [p for p in self.by_parent_name.get(name, []) if p.kind in kinds]
        if within is not None:
            candidates = [p for p in candidates if p.path.startswith(within.path)]
        return candidates


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


def _plan(user, community, rows, report):
    """Validate every row and work out what would change, touching nothing."""
    places = _Places(community)
    hh_plan = {}  # (place_id, door_no) → household fields
    person_plan = []  # (row_no, household key, cleaned person fields)
    seen_ids = {}
    for index, row in enumerate(rows, start=2):  # row 1 is the header
        def err(column, message):
            report.errors.append(RowError(index, column, message))
        for key, header, required in COLUMNS:
            if required and not row.get(key):
                err(header, _("Required field is empty."))
        if any(required and not row.get(key) for key, _h, required in COLUMNS):
            continue
        place, place_error, _k = _resolve_place(places, row)
        if place_error:
            err(place_error.column, place_error.message)
            continue
        area = None
        if row.get("area_m2"):
            try:
                area = Decimal(row["area_m2"]).quantize(Decimal("0.01"))
                if area <= 0 or area > 100000:
                    raise InvalidOperation
            except InvalidOperation:
                err(LABEL["area_m2"], _("Floor area must be a positive number of square metres."))
                continue
        tenure = TENURE.get(row.get("tenure") or "自住")
        relation = RELATIONS.get(row["relation"])
        political = POLITICAL.get(row.get("political") or "群众")
        for value, column, mapping_name in ((tenure, "tenure", TENURE), (relation, "relation", RELATIONS),
                                            (political, "political", POLITICAL)):
            if value is None:
                err(LABEL[column], _("Unknown value %(value)s; use one of: %(choices)s")
                    % {"value": row.get(column), "choices": "、".join(mapping_name)})
        if None in (tenure, relation, political):
            continue
        try:
            cleaned = clean_person_data({"name": row["name"], "id_number": row["id_number"], "phone": row.get("phone", ""),
                                         "relation": relation, "political": political,
                                         "ethnicity": row.get("ethnicity") or "汉族", "tags": row.get("tags", ""),
                                         "notes": row.get("notes", "")})
        except ValidationError as exc:
            for key, messages in exc.message_dict.items():
                err(LABEL.get(key, key), messages[0])
            continue
        id_hash = lookup_hash(cleaned["id_number"])
        if id_hash in seen_ids:
            err(LABEL["id_number"], _("Duplicate person: same ID number as row %(row)s.") % {"row": seen_ids[id_hash]})
            continue
        seen_ids[id_hash] = index
        key = (place.pk, row["door_no"])
        entry = hh_plan.setdefault(key, {"place": place, "fields": {"area_m2": None, "tenure": None}})
        conflict = False
        for column, value in (("area_m2", area), ("tenure", tenure if row.get("tenure") else None)):
            if value is not None and entry["fields"][column] not in (None, value):
                err(LABEL[column], _("The same household has a different value on another row."))
                conflict = True
            elif value is not None:
                entry["fields"][column] = value
        if not conflict:
            person_plan.append((index, key, id_hash, cleaned))
    if not person_plan:
        return hh_plan, person_plan, {}, {}
    existing_hh = {(h.place_id, h.door_no): h for h in
                   Household.objects.filter(place__path__startswith=community.path)
                   .only("id", "place_id", "door_no", "area_m2", "tenure")}
    existing_people = _existing_people([p[2] for p in person_plan])
    allowed = _places_user_may_edit(user, {p.place_id for p in existing_people.values() if p.place_id})
    for index, _key, id_hash, _c in person_plan:
        person = existing_people.get(id_hash)
        if person and person.place_id and person.place_id not in allowed:
            report.errors.append(RowError(index, LABEL["id_number"],
                                          _("This person is registered in another community outside your area.")))
    return hh_plan, person_plan, existing_hh, existing_people


# What an import compares and writes. Encrypted values are compared by their lookup hash, so the existing
# register is never decrypted; the hash normalises the same way the validators do.
_COMPARED = ("name", "gender", "birth_date", "id_number_hash", "phone_hash", "relation", "ethnicity", "political",
             "tags", "notes")
_WRITTEN = ("name", "gender", "birth_date", "id_number", "id_number_hash", "phone", "phone_hash", "relation",
            "ethnicity", "political", "tags", "notes")
_BATCH = 2000


@dataclass
class _Existing:
    pk: int
    household_id: int | None
    place_id: int | None
    values: tuple


def _existing_people(hashes) -> dict[str, _Existing]:
    """The persons already registered under these ID hashes, anywhere, without decrypting anything."""
    found = {}
    for start in range(0, len(hashes), 5000):
        for pk, household_id, place_id, *values in (
                Person.objects.filter(id_number_hash__in=hashes[start:start + 5000])
                .values_list("pk", "household_id", "household__place_id", *_COMPARED)):
            found[values[_COMPARED.index("id_number_hash")]] = _Existing(pk, household_id, place_id, tuple(values))
    return found


def _places_user_may_edit(user, place_ids) -> set[int]:
    places = Place.objects.filter(pk__in=place_ids).only("id", "path")
    return {p.pk for p in places if user.scope.covers(p, _editor_roles())}


def _editor_roles():
    from gongzhi.accounts.roles import REGISTER_EDIT_ROLES
    return REGISTER_EDIT_ROLES


def _person_values(cleaned, id_hash) -> dict:
    values = {k: cleaned[k] for k in ("name", "gender", "birth_date", "id_number", "relation", "ethnicity",
                                      "political", "tags", "notes")}
    values["phone"] = cleaned["phone"] or None
    values["id_number_hash"], values["phone_hash"] = id_hash, lookup_hash(values["phone"])
    return values


def import_register(user, community: Place, upload_name: str, data: bytes, *, dry_run: bool, request=None) -> ImportReport:
    """Validate the whole file; write all of it in one transaction only if every row is valid."""
    require(user, "registry.import_register", community)
    report = ImportReport(dry_run=dry_run)
    check_size(len(data))
    rows = read_rows(upload_name, data)
    report.rows = len(rows)
    with transaction.atomic():
        hh_plan, person_plan, existing_hh, existing_people = _plan(user, community, rows, report)
        if report.errors:
            report.errors.sort(key=lambda e: e.row)
            return report
        del rows  # the plan holds what is needed; keeps peak memory down on big files
        households = _write_households(hh_plan, existing_hh, report, dry_run)
        _write_persons(person_plan, households, existing_people, report, dry_run)
        if not dry_run:
            report.written = True
            audit.record(AuditEvent.Action.IMPORT, request=request, user=user, obj=community,
                         detail=f"{upload_name}: {report.rows} rows, +{report.persons_created} persons, "
                                f"~{report.persons_updated} updated")
    return report


def _write_households(hh_plan, existing_hh, report, dry_run) -> dict:
    """Create and update the households in batches; returns them by (place id, door no), None if not written."""
    households, created, updated = {}, [], []
    now = timezone.now()
    for key, item in hh_plan.items():
        household = existing_hh.get(key)
        fields = {k: v for k, v in item["fields"].items() if v is not None}
        if household is None:
            household = Household(place=item["place"], door_no=key[1], **fields)
            created.append(household)
        elif any(getattr(household, k) != v for k, v in fields.items()):
            for k, v in fields.items():
                setattr(household, k, v)
            household.updated_at = now  # bulk_update does not apply auto_now
            updated.append(household)
        households[key] = household
    report.households_created, report.households_updated = len(created), len(updated)
    if dry_run:
        return {key: None if h.pk is None else h for key, h in households.items()}
    Household.objects.bulk_create(created, batch_size=_BATCH)
    Household.objects.bulk_update(updated, ["area_m2", "tenure", "updated_at"], batch_size=_BATCH)
    return households


def _write_persons(person_plan, households, existing_people, report, dry_run):
    """Create new persons (streamed: COPY on PostgreSQL) and update changed ones in batches. Bulk writes skip
    Person.save, so the ciphertexts and lookup hashes are set here."""
    now = timezone.now()
    table = None if dry_run else Table(Person, ["household_id", *_WRITTEN, "created_at", "updated_at"])
    updated = []
    for _index, key, id_hash, cleaned in person_plan:
        values = _person_values(cleaned, id_hash)
        target = households[key]
        person = existing_people.get(id_hash)
        if person is None:
            report.persons_created += 1
            if table is not None:
                values["id_number"] = encrypt(values["id_number"])
                values["phone"] = values["phone"] and encrypt(values["phone"])
                table.add((target.pk, *(values[k] for k in _WRITTEN), now, now))
        elif (person.values != tuple(values[k] for k in _COMPARED)
              or target is None or person.household_id != target.pk):
            report.persons_updated += 1
            if not dry_run:
                updated.append(Person(pk=person.pk, household=target, updated_at=now, **values))
        else:
            report.unchanged += 1
    if not dry_run:
        table.flush()
        # Few rows change on a re-import; bulk_update's CASE per field grows with the batch, so keep it small.
        Person.objects.bulk_update(updated, [*_WRITTEN, "household", "updated_at"], batch_size=500)


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
