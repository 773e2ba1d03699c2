"""Pages and API: the flow through HTTP, clear errors instead of crash pages, and the public page."""

import pytest
from django.urls import reverse

from gongzhi.deliberation import services
from gongzhi.deliberation.models import Ballot, Topic

from .factories import add_households

pytestmark = pytest.mark.django_db


def test_api_flow(world, api_client):
    users = add_households(world, 38)
    r = api_client.as_user(world.resident).post("/api/deliberation/topics", {
        "place_id": world.community.pk, "title": "加装电梯", "body": "老人上下楼难"})
    assert r.status_code == 201, r.content
    topic_id = r.json()["id"]
    for u in users[:2]:
        assert api_client.as_user(u).post(f"/api/deliberation/topics/{topic_id}/cosign").status_code == 201
    assert api_client.as_user(users[0]).get(f"/api/deliberation/topics/{topic_id}").json()["status"] == "on_agenda"
    r = api_client.as_user(world.secretary).post("/api/deliberation/votes", {
        "place_id": world.community.pk, "title": "是否加装电梯", "rules": {"voter_unit": "household"},
        "topic_id": topic_id})
    vote_id = r.json()["id"]
    assert api_client.as_user(world.resident).post(f"/api/deliberation/votes/{vote_id}/ballots",
                                                   {"option": "yes"}).status_code == 201
    r = api_client.as_user(world.resident).post(f"/api/deliberation/votes/{vote_id}/ballots", {"option": "no"})
    assert r.status_code == 400 and "该户已经投票" in r.json()["detail"]
    r = api_client.as_user(world.resident).post(f"/api/deliberation/votes/{vote_id}/close")
    assert r.status_code == 403
    r = api_client.as_user(world.secretary).post(f"/api/deliberation/votes/{vote_id}/close")
    assert r.json()["passed"] is True
    public = api_client.get(f"/api/deliberation/public/{world.community.pk}")
    assert public.json()[0]["result"]["raw"]["heads"]["yes"] == 1


def test_pages_resident_and_desk(world, client):
    add_households(world, 18)
    client.force_login(world.resident)
    assert client.get(reverse("deliberation:index")).status_code == 200
    r = client.post(reverse("deliberation:topic_new"), {"place": world.community.pk, "title": "", "body": "x"})
    assert r.status_code == 200 and "必填" in r.content.decode()
    r = client.post(reverse("deliberation:topic_new"), {"place": world.community.pk, "title": "修路", "body": "x"})
    topic = Topic.objects.get()
    assert r.status_code == 302
    client.post(reverse("deliberation:topic", args=[topic.pk]), {"action": "cosign"})
    r = client.post(reverse("deliberation:topic", args=[topic.pk]), {"action": "cosign"}, follow=True)
    assert "该议题已不再征集联署" in r.content.decode() or "已经联署" in r.content.decode()

    client.force_login(world.secretary)
    desk = reverse("deliberation:desk", args=[world.community.pk])
    assert client.get(desk).status_code == 200
    r = client.post(desk, {"action": "vote", "v-title": "修路", "v-voter_unit": "household", "v-weighting": "one",
                           "v-quorum_percent": 0, "v-majority": "simple", "v-denominator": "cast",
                           "v-silent_majority": "on"})
    assert r.status_code == 200 and "沉默从众" in r.content.decode()  # refused: no adopted convention
    r = client.post(desk, {"action": "vote", "v-title": "修路", "v-voter_unit": "household", "v-weighting": "one",
                           "v-quorum_percent": 0, "v-majority": "simple", "v-denominator": "cast"})
    assert r.status_code == 302
    vote_url = r["Location"]
    r = client.post(vote_url, {"action": "paper", "door_no": "101", "option": "yes", "channel": "paper"})
    assert r.status_code == 302 and Ballot.objects.count() == 1
    r = client.post(vote_url, {"action": "paper", "door_no": "101", "option": "no", "channel": "paper"})
    assert "该户已经投票" in r.content.decode()
    client.post(vote_url, {"action": "close"})
    r = client.post(vote_url, {"action": "resolution", "title": "修路决议", "text": "修"})
    assert r.status_code == 302
    client.logout()
    page = client.get(reverse("deliberation:public", args=[world.community.pk])).content.decode()
    assert "修路决议" in page and "通过" in page


def test_meeting_pages(world, client):
    from django.utils import timezone
    meeting = services.convene_meeting(world.community_worker, place=world.community, kind="building",
                                       title="楼栋会议", starts_at=timezone.now(), location="1栋架空层")
    client.force_login(world.resident)
    client.post(reverse("deliberation:meeting", args=[meeting.pk]), {"action": "check_in"})
    r = client.post(reverse("deliberation:meeting", args=[meeting.pk]), {"action": "check_in"}, follow=True)
    assert "已经签到" in r.content.decode()
    client.force_login(world.community_worker)
    client.post(reverse("deliberation:meeting", args=[meeting.pk]), {"action": "minutes", "minutes": "同意"})
    meeting.refresh_from_db()
    assert meeting.minutes == "同意" and meeting.attendance.count() == 1
