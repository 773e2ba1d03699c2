from datetime import timedelta

from django.utils import timezone

from gongzhi.points import services


def store_item(world, **fields):
    data = {"name": "大米5斤", "price": 30, "stock": 5, **fields}
    return services.create_item(world.community_worker, world.community, **data)


def funded_account(world, points=100):
    account = services.my_account(world.resident)
    services.award(world.community_worker, account, amount=points, reason="开户测试", key=f"fund:{points}")
    account.refresh_from_db()
    return account


def activity(world, **fields):
    now = timezone.now()
    data = {"title": "清理河道", "location": "滨湖公园", "starts_at": now - timedelta(hours=1),
            "ends_at": now + timedelta(hours=3), "capacity": 10, "points_per_hour": 10, **fields}
    return services.create_activity(world.grid_worker_a, world.grid_a, **data)
