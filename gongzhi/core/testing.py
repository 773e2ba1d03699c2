"""Test helpers every app's tests share: a small place tree with one login per role, and browser log-in."""

from datetime import date
from types import SimpleNamespace

from gongzhi.accounts.models import RoleAssignment, User
from gongzhi.accounts.roles import OTP_ROLES, Role
from gongzhi.places.models import Kind
from gongzhi.places.services import create_place
from gongzhi.registry.models import Household, Person

PASSWORD = "Test@pass2026"


def square(lng, lat, size=0.01):
    return {"type": "Polygon", "coordinates": [[[lng, lat], [lng + size, lat], [lng + size, lat + size],
                                                [lng, lat + size], [lng, lat]]]}


def make_user(username, role=None, place=None, totp=True, **fields) -> User:
    """A login with a role at a place; roles that need a second factor get a confirmed TOTP device
    unless ``totp=False`` (a first login then enrols one)."""
    user = User.objects.create_user(username, password=PASSWORD, full_name=fields.pop("full_name", username), **fields)
    if role:
        RoleAssignment.objects.create(user=user, role=role, place=place)
    if totp and role in OTP_ROLES:
        totp_device(user)
    return user


def totp_device(user):
    """The user's confirmed TOTP device, created if missing."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from gongzhi.accounts.otp import confirmed_device
    return confirmed_device(user) or TOTPDevice.objects.create(user=user, name="test", confirmed=True)


def fresh_totp_code(user) -> str:
    """A code the user's device accepts now; forgets the last used time step so a second login within
    the same 30 seconds is not refused as a replay."""
    from gongzhi.accounts.otp import current_code
    device = totp_device(user)
    type(device).objects.filter(pk=device.pk).update(last_t=-1, throttling_failure_count=0)
    return current_code(device)


def mark_otp_verified(client, user):
    """What a correct TOTP code does to a session, for tests that log in with client.force_login."""
    from django_otp import DEVICE_ID_SESSION_KEY
    if user.needs_otp:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = totp_device(user).persistent_id
        session.save()


def valid_id(prefix="420704", born="19800101", seq="001") -> str:
    from gongzhi.core.validators import id_check_digit
    first17 = f"{prefix}{born}{seq}"
    return first17 + id_check_digit(first17)


def build_world():
    """A district › subdistrict › community with two grids, each with one building, two units, two households;
    one user per role; a resident who lives in grid A."""
    w = SimpleNamespace()
    w.province = create_place(kind=Kind.PROVINCE, name="湖北省", code="420000000000")
    w.city = create_place(kind=Kind.CITY, name="鄂州市", code="420700000000", parent=w.province)
    w.district = create_place(kind=Kind.DISTRICT, name="鄂城区", code="420704000000", parent=w.city)
    w.subdistrict = create_place(kind=Kind.SUBDISTRICT, name="凤凰街道", code="420704001000", parent=w.district)
    w.community = create_place(kind=Kind.COMMUNITY, name="滨湖社区", code="420704001001", parent=w.subdistrict)
    w.other_community = create_place(kind=Kind.COMMUNITY, name="南浦社区", code="420704001002", parent=w.subdistrict)
    w.grid_a = create_place(kind=Kind.GRID, name="第一网格", parent=w.community, boundary=square(114.88, 30.39))
    w.grid_b = create_place(kind=Kind.GRID, name="第二网格", parent=w.community, boundary=square(114.89, 30.39))
    w.building_a = create_place(kind=Kind.BUILDING, name="1栋", parent=w.grid_a, latitude=30.395, longitude=114.885)
    w.building_b = create_place(kind=Kind.BUILDING, name="2栋", parent=w.grid_b, latitude=30.395, longitude=114.895)
    w.unit_a = create_place(kind=Kind.UNIT, name="1单元", parent=w.building_a)
    w.unit_b = create_place(kind=Kind.UNIT, name="1单元", parent=w.building_b)
    w.household_a = Household.objects.create(place=w.unit_a, door_no="101", area_m2=88)
    w.household_b = Household.objects.create(place=w.unit_b, door_no="201", area_m2=99)
    w.person_a = Person(household=w.household_a, name="张三", gender="M", id_number=valid_id(seq="011"),
                        birth_date=date(1980, 1, 1), phone="13800000001", relation=Person.Relation.HEAD)
    w.person_a.save()
    w.person_b = Person(household=w.household_b, name="李四", gender="F", id_number=valid_id(seq="022"),
                        birth_date=date(1980, 1, 1), phone="13800000002", relation=Person.Relation.HEAD)
    w.person_b.save()
    w.grid_worker_a = make_user("grid_a", Role.GRID_WORKER, w.grid_a)
    w.grid_worker_b = make_user("grid_b", Role.GRID_WORKER, w.grid_b)
    w.community_worker = make_user("community", Role.COMMUNITY_WORKER, w.community)
    w.secretary = make_user("secretary", Role.COMMUNITY_SECRETARY, w.community)
    w.other_worker = make_user("other_community", Role.COMMUNITY_WORKER, w.other_community)
    w.subdistrict_officer = make_user("subdistrict", Role.SUBDISTRICT_OFFICER, w.subdistrict)
    w.bureau = make_user("bureau", Role.BUREAU_OFFICER, w.district)
    w.resident = make_user("resident", Role.RESIDENT, w.unit_a, phone="13800000001", person=w.person_a)
    return w


def image_upload(name="photo.jpg", size=(64, 48), exif_gps=False):
    """A real image file as a browser would upload it; with ``exif_gps`` a JPEG carrying a GPS tag."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    fmt = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}[name.rsplit(".", 1)[-1].lower()]
    out = io.BytesIO()
    image = Image.new("RGB", size, (200, 120, 40))
    if exif_gps:
        exif = Image.Exif()
        exif[0x8825] = {1: "N", 2: (30.0, 23.0, 42.0)}  # GPSInfo: latitude ref and value
        image.save(out, fmt, exif=exif)
    else:
        image.save(out, fmt)
    return SimpleUploadedFile(name, out.getvalue(), content_type=f"image/{fmt.lower()}")


def browser_login(page, base_url, username, password=PASSWORD):
    """Log in through the login page; when the one-time code step comes, type the code the user's app would show."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    if "/accounts/otp/" in page.url and page.locator("[data-testid=otp-secret]").count() == 0:
        page.fill("#id_otp", fresh_totp_code(User.objects.get(username=username)))
        with page.expect_navigation():
            page.click("main button[type=submit]")


def follow(locator):
    """Click a link or submit button and wait for the page it leads to."""
    with locator.page.expect_navigation():
        locator.click()


def add_activity(w):
    """Records in every app for the world's resident, through the apps' services: an appeal with a photo,
    points earned, a topic raised and co-signed, a vote cast."""
    from gongzhi.appeals import services as appeals
    from gongzhi.appeals.defaults import seed
    from gongzhi.appeals.models import Category
    from gongzhi.deliberation import services as deliberation
    from gongzhi.points import services as points

    seed(Category)  # a transactional test elsewhere may have flushed the migration's rows
    w.appeal = appeals.submit(w.resident, kind="complaint", category=Category.objects.get(code="noise"),
                              description="楼下夜里施工噪音", latitude=30.395, longitude=114.885,
                              contact_name="张三", contact_phone="13800000001", photo=image_upload())
    w.points_account = points.account_for_person(w.person_a)
    w.entry = points.award(w.community_worker, w.points_account, amount=20, reason="义务劳动", key="activity-1")
    w.topic = deliberation.raise_topic(w.resident, place=w.community, title="加装电梯", body="1栋想加装电梯")
    w.signature = deliberation.cosign(w.resident, w.topic)
    w.vote = deliberation.open_vote(w.secretary, place=w.community, title="是否加装电梯", rules={}, topic=w.topic)
    w.ballot = deliberation.cast_ballot(w.resident, w.vote, "yes")
    return w
