"""API for the register: households, persons (masked unless opened), visits, one-form import/export."""

from datetime import date, datetime
from decimal import Decimal

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from gongzhi.core.http import xlsx_response
from gongzhi.places.api import visible_place

from . import oneform, personal, services
from .models import Household, Person

router = Router(tags=["registry"])


class PersonBrief(Schema):
    id: int
    name: str
    gender: str
    relation: str
    age: int | None
    id_number: str
    phone: str

    @staticmethod
    def resolve_id_number(obj):
        return obj.masked_id_number

    @staticmethod
    def resolve_phone(obj):
        return obj.masked_phone


class PersonFull(Schema):
    id: int
    household_id: int | None
    name: str
    gender: str
    birth_date: str | None
    id_number: str | None
    phone: str | None
    relation: str
    ethnicity: str
    political: str
    tags: str
    notes: str

    @staticmethod
    def resolve_birth_date(obj):
        return obj.birth_date.isoformat() if obj.birth_date else None


class HouseholdOut(Schema):
    id: int
    place_id: int
    place_name: str
    door_no: str
    area_m2: Decimal | None
    tenure: str
    notes: str
    members: list[PersonBrief]

    @staticmethod
    def resolve_place_name(obj):
        return obj.place.full_name()

    @staticmethod
    def resolve_members(obj):
        return list(obj.members.all())


class HouseholdRow(Schema):
    id: int
    place_id: int
    door_no: str
    area_m2: Decimal | None
    tenure: str


class HouseholdIn(Schema):
    door_no: str
    area_m2: Decimal | None = None
    tenure: str = Household.Tenure.OWNER
    notes: str = ""


class HouseholdPatch(Schema):
    door_no: str | None = None
    area_m2: Decimal | None = None
    tenure: str | None = None
    notes: str | None = None


class PersonIn(Schema):
    name: str
    gender: str = ""
    id_number: str = ""
    phone: str = ""
    relation: str = Person.Relation.HEAD
    ethnicity: str = "汉族"
    political: str = Person.Political.MASSES
    tags: str = ""
    notes: str = ""


class PersonPatch(Schema):
    name: str | None = None
    gender: str | None = None
    id_number: str | None = None
    phone: str | None = None
    relation: str | None = None
    ethnicity: str | None = None
    political: str | None = None
    tags: str | None = None
    notes: str | None = None


class DepartureIn(Schema):
    departed: str
    departed_on: date | None = None


class AnonymiseIn(Schema):
    reason: str
    confirm: bool = False


class VisitIn(Schema):
    visited_at: datetime | None = None
    met: str = ""
    findings: str = ""
    needs: str = ""


class VisitOut(Schema):
    id: int
    household_id: int
    visitor: str
    visited_at: datetime
    met: str
    findings: str
    needs: str

    @staticmethod
    def resolve_visitor(obj):
        return str(obj.visitor)


class UnvisitedRow(HouseholdRow):
    last_visit: datetime | None


class ImportErrorOut(Schema):
    row: int
    column: str
    message: str


class ImportReportOut(Schema):
    rows: int
    households_created: int
    households_updated: int
    persons_created: int
    persons_updated: int
    unchanged: int
    dry_run: bool
    written: bool
    ok: bool
    errors: list[ImportErrorOut]


def visible_household(user, household_id) -> Household:
    household = get_object_or_404(Household.objects.select_related("place"), pk=household_id)
    services.require(user, "registry.view_household", household)
    return household


def _person(person_id) -> Person:
    return get_object_or_404(Person.objects.select_related("household__place"), pk=person_id)


@router.get("/places/{place_id}/households", response=list[HouseholdRow])
@paginate
def list_households(request, place_id: int):
    return services.households_in(request.user, visible_place(request.user, place_id))


@router.post("/places/{place_id}/households", response={201: HouseholdOut})
def create_household(request, place_id: int, payload: HouseholdIn):
    place = visible_place(request.user, place_id)
    return Status(201, services.create_household(request.user, place=place, **payload.dict()))


@router.get("/households/{household_id}", response=HouseholdOut)
def household_detail(request, household_id: int):
    return visible_household(request.user, household_id)


@router.patch("/households/{household_id}", response=HouseholdOut)
def update_household(request, household_id: int, payload: HouseholdPatch):
    household = visible_household(request.user, household_id)
    return services.update_household(request.user, household, **payload.dict(exclude_none=True))


@router.post("/households/{household_id}/persons", response={201: PersonFull})
def add_person(request, household_id: int, payload: PersonIn):
    household = visible_household(request.user, household_id)
    return Status(201, services.add_person(request.user, household, **payload.dict()))


@router.get("/persons/{person_id}", response=PersonFull)
def person_detail(request, person_id: int):
    """The full, unmasked record; every call is written to the access log."""
    person = _person(person_id)
    return services.view_person_full(request.user, person, request=request)


@router.patch("/persons/{person_id}", response=PersonFull)
def update_person(request, person_id: int, payload: PersonPatch):
    person = _person(person_id)
    return services.update_person(request.user, person, **payload.dict(exclude_none=True))


@router.post("/persons/{person_id}/departure", response=PersonFull)
def record_departure(request, person_id: int, payload: DepartureIn):
    """Record that a person moved away or died; the retention period before anonymisation starts that day."""
    person = _person(person_id)
    return services.record_departure(request.user, person, **payload.dict())


@router.post("/persons/{person_id}/anonymise", response=PersonFull)
def anonymise_person(request, person_id: int, payload: AnonymiseIn):
    """Irreversibly anonymise a departed person's record after the retention period; send `confirm: true`."""
    return services.anonymise_person(request.user, _person(person_id), reason=payload.reason,
                                     confirmed=payload.confirm)


@router.get("/me/data")
def my_data(request):
    """Everything held about the caller, as JSON (each call is written to the audit trail)."""
    return HttpResponse(personal.download(request.user, "json", request=request),
                        content_type="application/json; charset=utf-8")


@router.get("/me/data.xlsx")
def my_data_xlsx(request):
    """Everything held about the caller, as a spreadsheet (each call is written to the audit trail)."""
    return xlsx_response(personal.download(request.user, "xlsx", request=request), "my-data.xlsx")


@router.get("/households/{household_id}/visits", response=list[VisitOut])
def list_visits(request, household_id: int):
    return list(visible_household(request.user, household_id).visits.select_related("visitor"))


@router.post("/households/{household_id}/visits", response={201: VisitOut})
def record_visit(request, household_id: int, payload: VisitIn):
    household = visible_household(request.user, household_id)
    return Status(201, services.record_visit(request.user, household, **payload.dict()))


@router.get("/places/{place_id}/unvisited", response=list[UnvisitedRow])
@paginate
def unvisited(request, place_id: int, days: int | None = None):
    return services.unvisited_households(request.user, visible_place(request.user, place_id), days)


@router.post("/places/{place_id}/import", response=ImportReportOut)
def import_register(request, place_id: int, file: UploadedFile = File(...), dry_run: Form[bool] = True):
    """Import the one-form spreadsheet (.xlsx/.csv). Nothing is written unless every row is valid."""
    place = visible_place(request.user, place_id)
    oneform.check_size(file.size)  # before reading it into memory
    report = oneform.import_register(request.user, place, file.name, file.read(), dry_run=dry_run, request=request)
    return report.as_dict()


@router.get("/places/{place_id}/export")
def export_register(request, place_id: int, full: bool = False):
    """The register under a place as .xlsx, masked unless `full` and the caller may see full data."""
    place = visible_place(request.user, place_id)
    data = oneform.export_register(request.user, place, full=full, request=request)
    return xlsx_response(data, f"register-{place.pk}.xlsx")


@router.get("/import-template", auth=None)
def import_template(request):
    return xlsx_response(oneform.template_workbook(), "yibiaotong-template.xlsx")
