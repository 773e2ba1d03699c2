from datetime import timedelta

import pytest
from PIL import Image
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from gongzhi.appeals import services
from gongzhi.core.testing import image_upload
from gongzhi.appeals.models import Appeal, AppealEvent, Category, Notification, SubTask, Tier

S = Appeal.Status


def test_default_categories_seeded(db):
    noise = Category.objects.get(code="noise")
    assert noise.name == "噪音" and noise.resolve_hours == 168
    assert Category.objects.get(code="safety").response_hours == 2
    assert Category.objects.get(code="water").parent.code == "utilities"
    assert Category.objects.filter(parent__isnull=True).count() >= 12


def test_submit_locates_grid_and_sets_limits(w, make_appeal):
    a = make_appeal()
    assert a.place == w.grid_a and a.handler_place == w.grid_a and a.tier == Tier.GRID
    assert a.status == S.SUBMITTED and a.reporter == w.resident and a.contact_phone == "13800000001"
    assert a.accept_due - a.created_at == timedelta(hours=2)
    assert a.resolve_due - a.created_at == timedelta(days=7)
    assert list(a.events.values_list("action", flat=True)) == ["submit"]
    assert Notification.objects.filter(user=w.grid_worker_a, appeal=a).exists()


def test_danger_has_two_hour_response(w, make_appeal):
    a = make_appeal(urgency="danger")
    assert a.response_due - a.created_at == timedelta(hours=2)


def test_submit_is_idempotent(w, make_appeal):
    a = make_appeal(idempotency_key="k-1")
    b = make_appeal(idempotency_key="k-1")
    assert a.pk == b.pk and Appeal.objects.count() == 1
    with pytest.raises(ValidationError):
        make_appeal(user=w.resident_b, idempotency_key="k-1")


def test_submit_validation(w, cat):
    with pytest.raises(ValidationError) as exc:
        services.submit(w.resident, kind="nonsense", category=cat, description="")
    assert {"kind", "description"} <= set(exc.value.message_dict)


def test_submit_without_location_uses_household(w, cat):
    a = services.submit(w.resident, kind="help", category=cat, description="x")
    assert a.place == w.unit_a and a.handler_place == w.grid_a


def test_photo_type_checked(w, make_appeal):
    bad = SimpleUploadedFile("x.jpg", b"not an image at all", content_type="image/jpeg")
    with pytest.raises(ValidationError):
        make_appeal(photo=bad)
    truncated = image_upload("x.png")
    truncated = SimpleUploadedFile("x.png", truncated.read()[:60], content_type="image/png")
    with pytest.raises(ValidationError):
        make_appeal(photo=truncated)
    saved = make_appeal(photo=image_upload("x.jpg", exif_gps=True)).photo
    assert saved
    with saved.open("rb") as f:
        assert not Image.open(f).getexif()  # location metadata stripped


def test_phone_intake_links_resident_and_needs_staff(w, make_appeal):
    a = make_appeal(user=w.grid_worker_a, source="phone", contact_phone="13800000001")
    assert a.reporter == w.resident
    with pytest.raises(PermissionDenied):
        make_appeal(user=w.resident, source="phone")


def test_full_loop_satisfied(w, make_appeal):
    a = make_appeal()
    a = services.accept(w.grid_worker_a, a)
    a = services.assign(w.grid_worker_a, a, assignee=w.grid_worker_a, assisting_departments=["城管"])
    assert a.status == S.ASSIGNED and SubTask.objects.filter(appeal=a).count() == 2
    a = services.start(w.grid_worker_a, a)
    assert a.responded_at
    with pytest.raises(ValidationError):
        services.resolve(w.grid_worker_a, a, "")
    a = services.resolve(w.grid_worker_a, a, "已协调施工方夜间停工")
    with pytest.raises(PermissionDenied):
        services.rate(w.grid_worker_a, a, "satisfied")
    a = services.rate(w.resident, a, "satisfied")
    assert a.status == S.CLOSED and a.rating == "satisfied"
    assert [e.action for e in a.events.all()] == ["submit", "accept", "assign", "start", "resolve", "rate"]


def test_impossible_transition(w, make_appeal):
    a = make_appeal()
    with pytest.raises(ValidationError) as exc:
        services.close(w.grid_worker_a, a)
    assert "close" in str(exc.value) or "关闭" in str(exc.value)


def test_other_grid_cannot_act(w, make_appeal):
    a = make_appeal()
    with pytest.raises(PermissionDenied):
        services.accept(w.grid_worker_b, a)
    services.accept(w.community_worker, a)  # the community covers its grids


def test_unsatisfied_reopens_once_then_escalates(w, make_appeal):
    a = services.accept(w.grid_worker_a, make_appeal())
    a = services.resolve(w.grid_worker_a, a, "done")
    a = services.rate(w.resident, a, "unsatisfied", "还在吵")
    assert a.status == S.ACCEPTED and a.tier == Tier.GRID and a.reopen_count == 1
    a = services.resolve(w.grid_worker_a, a, "again")
    a = services.rate(w.resident, a, "unsatisfied")
    assert a.tier == Tier.COMMUNITY and a.handler_place == w.community and a.status == S.SUBMITTED
    with pytest.raises(PermissionDenied):
        services.accept(w.grid_worker_a, a)


def test_escalate_chain_to_department(w, make_appeal):
    a = make_appeal()
    with pytest.raises(ValidationError):
        services.escalate(w.grid_worker_a, a, "")
    a = services.escalate(w.grid_worker_a, a, "需要社区协调")
    assert (a.tier, a.handler_place) == (Tier.COMMUNITY, w.community)
    a = services.escalate(w.community_worker, a, "需要街道")
    assert (a.tier, a.handler_place) == (Tier.SUBDISTRICT, w.subdistrict)
    with pytest.raises(ValidationError):
        services.escalate(w.subdistrict_officer, a, "部门", department="消防")  # no such liaison
    a = services.escalate(w.subdistrict_officer, a, "派出所处理")  # noise → 派出所 by category
    assert a.tier == Tier.DEPARTMENT and a.department == "派出所" and a.escalation_count == 3
    with pytest.raises(PermissionDenied):
        services.accept(w.subdistrict_officer, a)
    a = services.accept(w.police, a)
    a = services.return_appeal(w.police, a, "不属于本部门")
    assert a.tier == Tier.SUBDISTRICT and a.status == S.SUBMITTED


def test_dispatch_needs_dispatching_tier(w, make_appeal):
    a = make_appeal()
    with pytest.raises(PermissionDenied):
        services.dispatch(w.grid_worker_a, a, "派出所")
    a = services.escalate(w.grid_worker_a, a, "上报")
    a = services.dispatch(w.community_worker, a, "派出所")
    assert a.tier == Tier.DEPARTMENT and w.police in services.handlers_of(a)
    assert services.inbox(w.police).filter(pk=a.pk).exists()
    assert not services.inbox(w.grid_worker_a).filter(pk=a.pk).exists()


def test_return_from_grid_goes_to_community(w, make_appeal):
    a = services.return_appeal(w.grid_worker_a, make_appeal(), "不在本网格")
    assert a.tier == Tier.COMMUNITY and a.escalation_count == 0


def test_merge_and_reject(w, make_appeal):
    a, b = make_appeal(), make_appeal(user=w.resident_b)
    b = services.merge(w.community_worker, b, a, "同一工地")
    assert b.status == S.MERGED and b.merged_into == a
    with pytest.raises(ValidationError):
        services.merge(w.community_worker, a, a)
    c = make_appeal()
    with pytest.raises(ValidationError):
        services.reject(w.grid_worker_a, c, " ")
    c = services.reject(w.grid_worker_a, c, "非本辖区事项")
    assert c.status == S.REJECTED


def test_hold_pauses_clock(w, make_appeal):
    a = services.accept(w.grid_worker_a, make_appeal())
    due = a.resolve_due
    with pytest.raises(ValidationError):
        services.hold(w.grid_worker_a, a, "")
    a = services.hold(w.grid_worker_a, a, "等待居民在家")
    Appeal.objects.filter(pk=a.pk).update(hold_started_at=timezone.now() - timedelta(hours=5))
    a = services.resume(w.grid_worker_a, a, "居民已回家")
    assert a.status == S.ACCEPTED and a.paused_seconds >= 5 * 3600
    assert a.resolve_due - due >= timedelta(hours=5)


def test_extension_moves_the_deadline_with_a_reason_at_most_twice(w, make_appeal):
    a = services.accept(w.grid_worker_a, make_appeal())
    due = a.resolve_due
    with pytest.raises(ValidationError):
        services.extend(w.grid_worker_a, a, 7, "")  # a reason is required
    for bad in (0, 16, "x"):
        with pytest.raises(ValidationError):
            services.extend(w.grid_worker_a, a, bad, "需协调物业")
    with pytest.raises(PermissionDenied):
        services.extend(w.grid_worker_b, a, 7, "需协调物业")  # not the handling unit
    a = services.extend(w.grid_worker_a, a, 7, "需协调物业")
    assert a.resolve_due - due == timedelta(days=7)
    assert a.events.filter(action="extend", note__contains="需协调物业").exists()
    services.extend(w.grid_worker_a, a, 3, "等待配件")
    with pytest.raises(ValidationError):
        services.extend(w.grid_worker_a, a, 3, "还要再等")
    assert a.events.filter(action="extend").count() == 2


def test_events_are_append_only(w, make_appeal):
    event = make_appeal().events.first()
    event.note = "changed"
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
    assert AppealEvent.objects.get(pk=event.pk).note == ""


def test_allowed_actions(w, make_appeal):
    a = make_appeal()
    assert "accept" in services.allowed_actions(w.grid_worker_a, a)
    assert services.allowed_actions(w.grid_worker_b, a) == []
    assert services.allowed_actions(w.resident, a) == []


def test_messages_are_translated(w, make_appeal):
    from django.utils import translation
    a = make_appeal()
    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        services.close(w.grid_worker_a, a)
    assert "已提交" in str(exc.value) and "关闭" in str(exc.value)
