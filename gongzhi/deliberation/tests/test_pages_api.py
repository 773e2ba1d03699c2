"""Pages and API: the flow through HTTP, clear errors instead of crash pages, and the public page."""

import pytest
from django.urls import reverse

from gongzhi.deliberation import services
from gongzhi.deliberation.models import Ballot, Topic

from .factories import add_households, passed_resolution

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


def _meeting(world, **kw):
    from django.utils import timezone
    return services.convene_meeting(world.community_worker, place=world.community, kind="representatives",
                                    title="居民代表会议", starts_at=timezone.now(), location="社区活动室", **kw)


def test_topic_page_comment_merge_decline(world, client):
    keep = services.raise_topic(world.resident, place=world.community, title="加装电梯", body="b")
    dup = services.raise_topic(world.resident, place=world.community, title="装电梯", body="b")
    other = services.raise_topic(world.resident, place=world.community, title="养狗", body="b")
    client.force_login(world.resident)
    url = reverse("deliberation:topic", args=[keep.pk])
    client.post(url, {"action": "comment", "text": "支持"})
    page = client.get(url).content.decode()
    assert "支持" in page and "合并重复议题" not in page  # residents see no staff forms
    client.force_login(world.community_worker)
    r = client.post(reverse("deliberation:topic", args=[dup.pk]), {"action": "merge", "merge-into": keep.pk,
                                                                  "merge-reason": "重复"})
    assert r.status_code == 302
    r = client.post(reverse("deliberation:topic", args=[other.pk]), {"action": "decline", "decline-reason": ""})
    assert "理由" in r.content.decode()
    client.post(reverse("deliberation:topic", args=[other.pk]), {"action": "decline",
                                                                "decline-reason": "属于物业职责"})
    client.logout()
    public = client.get(reverse("deliberation:public", args=[world.community.pk])).content.decode()
    assert "装电梯 · 已合并 → 加装电梯 · 重复" in public and "养狗 · 不予受理 · 属于物业职责" in public


def test_meeting_page_edit_invite_documents_qr(world, client):
    from gongzhi.core.testing import image_upload
    meeting = _meeting(world)
    url = reverse("deliberation:meeting", args=[meeting.pk])
    client.force_login(world.community_worker)
    page = client.get(url).content.decode()
    assert "<svg" in page and meeting.checkin_code in page
    r = client.post(url, {"action": "invite", "rule": "households", "place": world.building_a.pk})
    assert r.status_code == 302 and list(meeting.invitees.all()) == [world.resident]
    r = client.post(url, {"action": "document", "title": "现场照片", "file": image_upload()})
    assert r.status_code == 302 and meeting.documents.count() == 1
    r = client.post(url, {"action": "edit", "e-kind": "representatives", "e-title": "居民代表会议", "e-location": "",
                          "e-starts_at": "2026-12-01T19:00"})
    assert "地点" in r.content.decode()  # location or link required, shown on the form
    r = client.post(url, {"action": "edit", "e-kind": "representatives", "e-title": "居民代表会议（改期）",
                          "e-location": "二楼", "e-starts_at": "2026-12-01T19:00"})
    assert r.status_code == 302
    client.force_login(world.resident)
    page = client.get(url).content.decode()
    assert "<svg" not in page  # the QR code is for staff to show at the venue
    wrong = reverse("deliberation:check_in", args=[meeting.pk, "wrong"])
    r = client.post(wrong, follow=True)
    assert "签到码" in r.content.decode() and not meeting.attendance.exists()
    client.post(reverse("deliberation:check_in", args=[meeting.pk, meeting.checkin_code]))
    assert meeting.attendance.get().user == world.resident
    assert "有变更" in client.get(reverse("deliberation:notices")).content.decode()


def test_vote_page_proxy_needs_authorisation_and_lists_non_voters(world, client):
    from gongzhi.core.testing import image_upload
    vote = services.open_vote(world.secretary, place=world.community, title="修路", rules={})
    url = reverse("deliberation:vote", args=[vote.pk])
    client.force_login(world.secretary)
    r = client.post(url, {"action": "paper", "door_no": "201", "option": "yes", "channel": "proxy",
                          "proxy_name": "李四之子"})
    assert "委托书" in r.content.decode() and not Ballot.objects.exists()
    r = client.post(url, {"action": "paper", "door_no": "201", "option": "yes", "channel": "proxy",
                          "proxy_name": "李四之子", "authorisation": image_upload("委托书.png")})
    assert r.status_code == 302 and Ballot.objects.get().channel == "proxy"
    page = client.get(url).content.decode()
    assert "尚未投票 (1)" in page and "1单元 101" in page
    client.force_login(world.resident)
    assert "尚未投票" in client.get(reverse("deliberation:my_votes")).content.decode()
    assert "1单元 101" not in client.get(url).content.decode()  # residents do not see the list


def test_resolution_page_tasks_progress_rating(world, client):
    resolution = passed_resolution(world, "修路决议")
    url = reverse("deliberation:resolution", args=[resolution.pk])
    client.force_login(world.secretary)
    r = client.post(url, {"action": "task", "title": "施工", "owner": world.grid_worker_a.pk, "owner_name": "",
                          "due": ""})
    assert "必填" in r.content.decode() and not resolution.tasks.exists()
    client.post(url, {"action": "task", "title": "施工", "owner": world.grid_worker_a.pk, "owner_name": "",
                      "due": "2027-01-31"})
    task = resolution.tasks.get()
    assert task.owner == world.grid_worker_a and task.owner_name == "grid_a"
    client.force_login(world.resident)
    assert "任务全部完成后即可评价" in client.get(url).content.decode()
    client.force_login(world.grid_worker_a)  # the task owner reports it done
    client.post(url, {"action": "progress", "task": task.pk, "text": "路已修好", "done": "on"})
    client.force_login(world.resident)
    r = client.post(url, {"action": "rate", "score": "4", "comment": "很好"}, follow=True)
    assert "平均4.0分" in r.content.decode()


def test_convention_pages_review_vote_adopt(world, client):
    client.force_login(world.secretary)
    r = client.post(reverse("deliberation:conventions", args=[world.community.pk]),
                    {"action": "create", "kind": "residents", "title": "滨湖社区居民公约"})
    url = r["Location"]
    r = client.post(url, {"action": "draft", "text": "第七条 5%动议。\n第八条 沉默从众。", "motion_percent": "10",
                          "silent_majority": "on", "motion_clause": "第七条", "silent_majority_clause": ""})
    assert "条款" in r.content.decode()
    client.post(url, {"action": "draft", "text": "第七条 10%动议。\n第八条 沉默从众。", "motion_percent": "10",
                      "silent_majority": "on", "motion_clause": "第七条", "silent_majority_clause": "第八条"})
    version = services.ConventionVersion.objects.get()
    page = client.get(url).content.decode()
    assert "须经法制审核" in page and 'data-testid="convention-vote-form"' not in page
    client.force_login(world.subdistrict_officer)
    client.post(url, {"action": "review", "version": version.pk, "opinion": "符合法律法规。"})
    client.force_login(world.secretary)
    r = client.post(url, {"action": "vote", "version": version.pk, "v-title": "表决居民公约", "v-voter_unit": "household",
                          "v-weighting": "one", "v-quorum_percent": 50, "v-majority": "simple",
                          "v-denominator": "cast"})
    vote_url = r["Location"]
    for door in ("101", "201"):
        client.post(vote_url, {"action": "paper", "door_no": door, "option": "yes", "channel": "paper"})
    client.post(vote_url, {"action": "close"})
    version.refresh_from_db()
    assert version.status == "adopted" and version.adopted_at
    desk = client.get(reverse("deliberation:desk", args=[world.community.pk])).content.decode()
    assert "动议门槛：户数的10.00%" in desk and "第七条" in desk and "第八条" in desk
    client.logout()
    public = client.get(reverse("deliberation:public", args=[world.community.pk])).content.decode()
    assert f'id="convention-{version.pk}"' in public and "10%动议" in public
    assert f"通过于 {version.adopted_at:%Y-%m-%d}" in public


def test_api_follow_through(world, api_client):
    from gongzhi.core.testing import image_upload
    users = add_households(world, 38)
    topic = services.raise_topic(world.resident, place=world.community, title="加装电梯", body="b")
    dup = services.raise_topic(users[0], place=world.community, title="装电梯", body="b")
    # One client whose token changes with as_user(): name who acts on every call.
    def as_resident():
        return api_client.as_user(world.resident)

    def as_staff():
        return api_client.as_user(world.community_worker)

    assert as_resident().post(f"/api/deliberation/topics/{topic.pk}/comments", {"text": "支持"}).status_code == 201
    assert as_resident().get(f"/api/deliberation/topics/{topic.pk}/comments").json()[0]["text"] == "支持"
    r = as_staff().post(f"/api/deliberation/topics/{dup.pk}/merge", {"into_id": topic.pk, "reason": "重复"})
    assert r.json()["status"] == "merged"
    r = as_staff().post(f"/api/deliberation/topics/{topic.pk}/paper-signatures",
                      {"household_ids": f"{world.household_a.pk},{world.household_b.pk}", "scan": image_upload()})
    assert r.status_code == 201 and r.json()["status"] == "on_agenda"
    r = as_staff().post(f"/api/deliberation/topics/{topic.pk}/decline", {"reason": "x"})
    assert r.status_code == 400 and "必须" in r.json()["detail"]

    meeting = _meeting(world)
    r = as_staff().post(f"/api/deliberation/meetings/{meeting.pk}/invitations",
                      {"rule": "households", "place_id": world.building_a.pk})
    assert r.json()["invited"] == 1 + 38
    r = api_client.as_user(world.resident).post(f"/api/deliberation/meetings/{meeting.pk}/check-in", {"code": "x"})
    assert r.status_code == 400
    r = api_client.as_user(world.resident).post(f"/api/deliberation/meetings/{meeting.pk}/check-in",
                                                {"code": meeting.checkin_code})
    assert r.status_code == 201
    assert any("居民代表会议" in n["text"] for n in api_client.as_user(world.resident).get(
        "/api/deliberation/notices").json())

    vote = services.open_vote(world.secretary, place=world.community, title="修路", rules={})
    r = as_staff().post(f"/api/deliberation/votes/{vote.pk}/proxy-ballots",
                      {"option": "yes", "household_id": world.household_b.pk, "proxy_name": "李四之子",
                       "authorisation": image_upload()})
    assert r.status_code == 201
    missing = as_staff().get(f"/api/deliberation/votes/{vote.pk}/not-voted").json()
    assert len(missing) == 39 and f"h:{world.household_b.pk}" not in {m["voter_key"] for m in missing}
    assert api_client.as_user(world.resident).get(f"/api/deliberation/votes/{vote.pk}/not-voted").status_code == 403
    assert api_client.as_user(world.resident).get("/api/deliberation/my-votes").json() == [
        {"id": vote.pk, "title": "修路", "status": "open", "voted": False}]

    r = as_staff().post("/api/deliberation/conventions", {"place_id": world.community.pk, "kind": "residents",
                                                        "title": "居民公约"})
    assert r.status_code == 201, r.content.decode()
    r = as_staff().post(f"/api/deliberation/conventions/{r.json()['id']}/versions", {"text": "……", "motion_percent": "8"})
    version_id = r.json()["id"]
    r = as_staff().post(f"/api/deliberation/versions/{version_id}/vote", {"title": "t", "rules": {}})
    assert r.status_code == 400 and "法制审核" in r.json()["detail"]
    r = api_client.as_user(world.subdistrict_officer).post(f"/api/deliberation/versions/{version_id}/review",
                                                           {"opinion": "符合法律法规。"})
    assert r.json()["status"] == "reviewed"
    assert as_staff().post(f"/api/deliberation/versions/{version_id}/vote",
                         {"title": "t", "rules": {}}).status_code == 201
