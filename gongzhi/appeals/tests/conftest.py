import pytest

from gongzhi.accounts.models import RoleAssignment
from gongzhi.accounts.roles import Role
from gongzhi.core.testing import make_user


@pytest.fixture
def w(world):
    """The shared world plus a police liaison over the district and a resident login in grid B."""
    from gongzhi.appeals.defaults import seed
    from gongzhi.appeals.models import Category
    seed(Category)  # a transactional (browser) test elsewhere may have flushed the migration's rows
    world.police = make_user("police", Role.DEPARTMENT_LIAISON, world.district)
    RoleAssignment.objects.filter(user=world.police).update(department="派出所")
    world.resident_b = make_user("resident_b", Role.RESIDENT, world.unit_b, phone="13800000002", person=world.person_b)
    return world


@pytest.fixture
def cat(db):
    from gongzhi.appeals.models import Category
    return Category.objects.get(code="noise")


@pytest.fixture
def make_appeal(w, cat):
    from gongzhi.appeals import services

    def make(user=None, **kw):
        data = dict(kind="complaint", category=cat, description="楼下夜里施工噪音", latitude=30.395, longitude=114.885)
        data.update(kw)
        return services.submit(user or w.resident, **data)
    return make


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
