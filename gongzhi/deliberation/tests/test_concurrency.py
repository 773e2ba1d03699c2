"""Parallel double votes by the same household: exactly one is counted, the rest get a clear Chinese error."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from gongzhi.core.testing import build_world
from gongzhi.deliberation import services
from gongzhi.deliberation.models import Ballot, Choice

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite serialises writers (IMMEDIATE transactions) "
                       "and its shared in-memory test database locks whole tables; the race is tested on PostgreSQL"),
]


def test_parallel_double_vote_counts_once():
    world = build_world()
    vote = services.open_vote(world.secretary, place=world.community, title="并发表决", rules={})
    n = 8
    barrier = threading.Barrier(n)
    outcomes = []

    def attempt(i):
        try:
            barrier.wait()
            if i % 2:
                services.cast_ballot(world.resident, vote, "yes")
            else:
                services.cast_ballot(world.secretary, vote, "no", channel="paper", household=world.household_a)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1, outcomes
    assert all("该户已经投票" in o for o in outcomes if o != "ok")
    assert Ballot.objects.filter(vote=vote).count() == 1 and Choice.objects.filter(vote=vote).count() == 1
    vote = services.close_vote(world.secretary, vote)
    assert vote.result["voted_heads"] == 1


def test_parallel_cosigns_cross_the_threshold_once():
    """Households co-signing at the same moment: every signature counts, the topic goes onto the agenda once and
    each follower is told once."""
    from gongzhi.deliberation.models import CoSignature, Notice, Topic

    from .factories import add_households

    world = build_world()
    users = add_households(world, 38)  # 40 households → threshold 2
    topic = services.raise_topic(world.resident, place=world.community, title="加装电梯", body="b")
    n = 6
    barrier = threading.Barrier(n)
    outcomes = []

    def attempt(user):
        try:
            barrier.wait()
            services.cosign(user, topic)
            outcomes.append("ok")
        except ValidationError as exc:
            outcomes.append(exc.messages[0])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in users[:n]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    topic.refresh_from_db()
    signed = CoSignature.objects.filter(topic=topic).count()
    assert topic.status == Topic.Status.ON_AGENDA and signed == outcomes.count("ok") == 2
    assert all("不再征集" in o for o in outcomes if o != "ok")  # those after the threshold are told why
    assert Notice.objects.filter(recipient=world.resident, text__contains="必须列入议程").count() == 1
