from datetime import timedelta

from django.urls import reverse

from gongzhi.appeals import services, similar
from gongzhi.appeals.models import Appeal, Category

S = Appeal.Status


def test_candidates_are_same_category_nearby_and_similar(w, make_appeal):
    a = make_appeal(description="楼下工地夜里施工噪音很大，睡不着")
    b = make_appeal(user=w.resident_b, description="小区旁边工地夜里还在施工，噪音扰民", latitude=30.3952,
                    longitude=114.8853)
    make_appeal(user=w.resident_b, description="广场舞音响声音太大")                      # different words
    make_appeal(user=w.resident_b, description="工地夜里施工噪音", category=Category.objects.get(code="garbage"))
    make_appeal(user=w.resident_b, description="工地夜里施工噪音很大", latitude=None, longitude=None,
                place=w.other_community)                                                   # elsewhere
    closed = make_appeal(user=w.resident_b, description="工地夜里施工噪音很大")
    services.reject(w.grid_worker_a, closed, "重复")                                       # not open any more
    found = similar.candidates(w.grid_worker_a, a)
    assert [c.appeal for c in found] == [b]
    assert similar.MIN_SCORE <= found[0].score <= 1 and found[0].distance_m < 50 and found[0].text_score > 0.2
    # The other grid's worker does not see appeal A's grid, so B (in grid A) is no candidate for them.
    assert similar.candidates(w.grid_worker_b, b) == []


def test_candidates_only_from_the_recent_period(w, make_appeal):
    a = make_appeal(description="工地夜里施工噪音很大")
    old = make_appeal(user=w.resident_b, description="工地夜里施工噪音很大")
    Appeal.objects.filter(pk=old.pk).update(created_at=a.created_at - timedelta(days=similar.WINDOW_DAYS + 1))
    assert similar.candidates(w.community_worker, a) == []


def test_same_grid_without_points_still_matches(w, make_appeal):
    a = make_appeal(description="三单元楼道灯坏了好几天", latitude=None, longitude=None, place=w.grid_a)
    b = make_appeal(user=w.resident_b, description="楼道灯坏了，晚上很黑", latitude=None, longitude=None,
                    place=w.building_a)
    [c] = similar.candidates(w.grid_worker_a, a)
    assert c.appeal == b and c.distance_m is None


def test_staff_see_candidates_and_merge_on_the_page(client, w, make_appeal):
    a = make_appeal(description="工地夜里施工噪音很大")
    b = make_appeal(user=w.resident_b, description="夜里工地施工噪音太大了")
    client.force_login(w.grid_worker_a)
    page = client.get(reverse("appeals:detail", args=[b.pk])).content.decode()
    assert f'data-testid="candidate-{a.pk}"' in page and "%" in page
    response = client.post(reverse("appeals:act", args=[b.pk, "merge"]), {"into": str(a.pk)})
    assert response.status_code == 302
    b.refresh_from_db()
    assert b.status == S.MERGED and b.merged_into == a
    # The reporter cannot see candidates (they may not merge).
    client.force_login(w.resident)
    assert 'data-testid="candidates"' not in client.get(reverse("appeals:detail", args=[a.pk])).content.decode()


def test_candidates_in_the_api(api_client, w, make_appeal):
    a = make_appeal(description="工地夜里施工噪音很大")
    b = make_appeal(user=w.resident_b, description="夜里工地施工噪音太大了")
    body = api_client.as_user(w.community_worker).get(f"/api/appeals/{b.pk}/similar").json()
    assert [c["appeal"]["id"] for c in body] == [a.pk] and 0 < body[0]["score"] <= 1
    assert api_client.as_user(w.resident_b).get(f"/api/appeals/{b.pk}/similar").status_code == 403


def test_merge_moves_earlier_duplicates_to_the_new_main_appeal(w, make_appeal):
    a, b, c = make_appeal(), make_appeal(user=w.resident_b), make_appeal(user=w.resident_b)
    services.merge(w.community_worker, c, b)
    services.merge(w.community_worker, b, a)
    c.refresh_from_db()
    assert c.merged_into == a and c.root == a
    assert c.events.filter(action="merge").count() == 2
