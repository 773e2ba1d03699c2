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
