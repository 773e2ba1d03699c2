"""Demo appeals across the demo district, made through the services so every history is real."""

from datetime import timedelta

from django.utils import timezone

from gongzhi.places.models import GRID_KINDS, Place

from . import services
from .models import Appeal, Category, Tier

# (category code, kind, descriptions): similar texts in one list become duplicates of each other.
TEXTS = [
    ("noise", "complaint", ["小区旁边工地夜里还在施工，噪音很大", "工地夜间施工噪音扰民，凌晨还在打桩",
                            "楼下广场舞音响声音太大"]),
    ("garbage", "complaint", ["垃圾桶满了好几天没人清运，气味很大", "小区门口垃圾堆积发臭"]),
    ("lighting", "help", ["3栋门口路灯不亮，晚上出行不安全", "小区路灯坏了好几盏"]),
    ("roads", "report", ["人行道井盖松动，踩上去会晃", "路面塌陷出现深坑"]),
    ("parking", "complaint", ["消防通道被私家车长期占用", "小区车位不够，车辆乱停乱放"]),
    ("property", "complaint", ["电梯经常停运，物业不及时维修", "楼道堆放杂物，物业不清理"]),
    ("elderly_disabled", "help", ["独居老人行动不便，希望有人帮忙买菜", "残疾人家庭申请无障碍扶手安装"]),
    ("pets", "complaint", ["邻居家的狗经常夜里叫", "小区内遛狗不牵绳"]),
    ("delivery", "suggestion", ["快递进不了小区，希望设置快递柜", "外卖快递员进门难，建议登记后放行"]),
    ("neighbours", "dispute", ["楼上漏水到楼下，双方协商不成", "邻居占用公共走廊，发生争执"]),
    ("policy", "inquiry", ["想咨询高龄津贴怎么申请", "咨询居住证办理需要什么材料"]),
]


def _inside(rng, grid):
    """A random point well inside the grid's square boundary."""
    ring = grid.boundary["coordinates"][0]
    lngs, lats = [p[0] for p in ring], [p[1] for p in ring]
    return (min(lats) + (max(lats) - min(lats)) * rng.uniform(0.2, 0.8),
            min(lngs) + (max(lngs) - min(lngs)) * rng.uniform(0.2, 0.8))


def load(rng, district, users) -> dict:
    admin, police = users["admin"], users["police"]
    by_username = {u: users[u] for u in ("grid1", "grid2", "community", "village", "subdistrict") if u in users}
    grids = list(Place.objects.filter(path__startswith=district.path, kind__in=GRID_KINDS, boundary__isnull=False)
                 .order_by("path"))
    categories = {c.code: c for c in Category.objects.filter(code__in=[t[0] for t in TEXTS])}

    def handler(appeal):
        """Someone who holds the appeal now: the department liaison, else staff over the handling place."""
        if appeal.tier == Tier.DEPARTMENT:
            return police
        for user in by_username.values():
            if user.has_perm("appeals.handle_appeal", appeal):
                return user
        return admin

    def intake(grid, code, kind, text, reporter=None, **extra):
        """The resident's own submission, or one taken by staff (phone, grid discovery, door-knocking)."""
        lat, lng = _inside(rng, grid)
        common = dict(kind=kind, category=categories[code], description=text, latitude=lat, longitude=lng, **extra)
        if reporter is not None:
            return services.submit(reporter, **common)
        staff = next((u for u in by_username.values() if u.scope.covers(grid)), admin)
        return services.submit(staff, source=rng.choice(["phone", "grid", "visit"]),
                               contact_name=rng.choice("王李张刘陈杨") + rng.choice(["阿姨", "师傅", "先生", "女士"]),
                               contact_phone=f"139{rng.randrange(10**7, 10**8)}", **common)

    resident = users["resident"]
    neighbour = users.get("buildinghead", resident)
    home_grid = next(g for g in grids if resident.person.household.place.path.startswith(g.path))
    made = []
    for n in range(32):
        grid = home_grid if n < 16 else grids[n % len(grids)]
        code, kind, texts = TEXTS[n % len(TEXTS)]
        extra = {"reporter": resident if n % 2 else neighbour} if n < 16 else {}
        if n % 9 == 4:
            extra["urgency"] = "urgent"
        made.append(intake(grid, code, kind, texts[n % len(texts)], **extra))

    closed = rated = merged = 0
    for n, appeal in enumerate(made):
        step = n % 8
        if step == 0:
            continue  # just submitted
        appeal = services.accept(handler(appeal), appeal)
        if step == 1:
            continue
        if step == 2:  # the grid asks the community; the community sends it on to the police where it can
            if appeal.tier == Tier.GRID:
                appeal = services.escalate(handler(appeal), appeal, "需社区协调")
            if appeal.tier == Tier.COMMUNITY and "派出所" in services.departments_for(appeal.place):
                appeal = services.dispatch(handler(appeal), appeal, "派出所", "请派出所协助处理")
                appeal = services.accept(police, appeal)
                services.assign(police, appeal, assignee=police, assisting_departments=["城管"],
                                note="派出所牵头，城管配合")
            continue
        if step == 3:
            services.hold(handler(appeal), appeal, "等待居民在家时上门查看")
            continue
        appeal = services.start(handler(appeal), appeal)
        if step == 4:
            continue
        appeal = services.resolve(handler(appeal), appeal, "已上门核实并处理完毕")
        if appeal.reporter is None:
            services.close(handler(appeal), appeal, "电话回访，居民表示满意")
            closed += 1
        elif step == 5:
            continue  # awaiting the reporter's rating
        elif step == 6:  # reworked once, then satisfied
            appeal = services.rate(appeal.reporter, appeal, "unsatisfied", "问题还没彻底解决")
            appeal = services.resolve(handler(appeal), appeal, "再次上门，已彻底解决")
            services.rate(appeal.reporter, appeal, "satisfied", "这次解决了")
            rated += 2
        else:
            services.rate(appeal.reporter, appeal, rng.choice(["satisfied", "basically"]))
            rated += 1

    # Duplicates: the neighbour reports what the resident already reported; staff merge all but the last,
    # which waits on its page with the original as a candidate.
    originals = [a for a in made[:16] if a.reporter == resident]
    for original in originals:
        original.refresh_from_db()
        if not original.is_open:
            continue
        copy = services.submit(neighbour, kind=original.kind, category=original.category,
                               description=original.description + "，希望尽快处理", latitude=original.latitude,
                               longitude=original.longitude)
        if merged == 3:
            break
        services.merge(handler(copy), copy, original, "同一问题")
        merged += 1
    services.reject(handler(made[16]), made[16], "不属于社区受理范围，已告知居民拨打12345")

    # Some were left too long: the worker escalates them as it would at night.
    late = [made[8].pk, made[24].pk]  # still as submitted
    Appeal.objects.filter(pk__in=late).update(accept_due=timezone.now() - timedelta(minutes=30))
    escalated = services.flag_overdue()
    services.refresh_rollups()  # the metrics page reads whole days from the rollup
    return {"appeals": Appeal.objects.filter(place__path__startswith=district.path).count(), "appeals_closed": closed,
            "appeal_ratings": rated, "appeals_merged": merged, "appeals_escalated_overdue": escalated}
