"""Points demo records for `gongzhi demo`, made through the services so the ledger is real and audits clean."""

from datetime import timedelta

from django.utils import timezone

from gongzhi.accounts.roles import Role
from gongzhi.core.testing import image_upload
from gongzhi.places.models import Place
from gongzhi.registry.models import Household, Person

from . import services
from .models import Account, Entry, Item, Redemption

# (name, points, who may award, times, per period, article of the convention, evidence photo needed)
COMMUNITY_RULES = [
    ("垃圾分类定点投放", 2, Role.GRID_WORKER, 1, "day", "居民公约第四条：垃圾分类，定点投放，不乱扔乱倒。", False),
    ("参加居民议事会", 5, Role.COMMUNITY_WORKER, 4, "month", "居民公约第七条：积极参加居民议事协商。", False),
    ("邻里互助", 10, Role.GRID_WORKER, 2, "month", "居民公约第九条：邻里和睦，守望相助。", True),
    ("高空抛物", -20, Role.COMMUNITY_WORKER, None, "", "居民公约第三条：严禁高空抛物。", False),
]
VILLAGE_RULES = [
    ("门前三包", 5, Role.COMMUNITY_WORKER, 1, "week", "村规民约第五条：门前包卫生、包绿化、包秩序。", False),
    ("参加村民议事", 3, Role.COMMUNITY_WORKER, 4, "month", "村规民约第二条：积极参加村湾夜话和村民议事。", False),
    ("孝老爱亲", 10, Role.COMMUNITY_WORKER, 1, "month", "村规民约第八条：孝敬老人，家庭和睦。", True),
    ("婚丧简办", 20, Role.COMMUNITY_WORKER, None, "", "村规民约第十条：移风易俗，婚事新办，丧事简办。", False),
    ("乱堆乱放", -5, Role.COMMUNITY_WORKER, None, "", "村规民约第六条：柴草杂物不乱堆乱放。", False),
]


def _rulebook(user, place, lines):
    rules = {}
    for name, points, role, cap, period, convention, evidence in lines:
        rules[name] = services.create_rule(user, place, name=name, points=points, award_role=role, cap=cap,
                                           period=period, convention=convention, evidence_required=evidence,
                                           expiry_days=730)
    return rules


def _adults(place, rng, k, exclude=()):
    people = list(Person.objects.filter(household__place__path__startswith=place.path,
                                        relation__in=[Person.Relation.HEAD, Person.Relation.SPOUSE])
                  .exclude(pk__in=exclude).defer("id_number", "phone").select_related("household__place")
                  .order_by("pk")[:200])
    return rng.sample(people, k=min(k, len(people)))


def load(rng, district, users) -> dict:
    community_worker, village_worker, grid1 = users["community"], users["village"], users["grid1"]
    resident = users["resident"]
    community = Place.objects.get(path__startswith=district.path, name="滨湖社区")
    village = Place.objects.get(path__startswith=district.path, name="月陂村")
    grid = community.children.get(name="第一网格")
    now = timezone.now()

    # Rulebooks tied to the adopted convention and village rules; the village scores households.
    c_rules = _rulebook(community_worker, community, COMMUNITY_RULES)
    v_rules = _rulebook(village_worker, village, VILLAGE_RULES)
    services.set_policy(community_worker, community, public_leaderboard=True)
    services.set_policy(village_worker, village, household_includes_members=True, public_leaderboard=True)

    # A finished clean-up with confirmed hours, and activities still to come.
    neighbours = _adults(grid, rng, 6, exclude=[resident.person_id])
    day = (now - timedelta(days=7)).replace(hour=9, minute=0, second=0, microsecond=0)
    past = services.create_activity(grid1, grid, title="清理小区绿化带", location="滨湖花园中心花园",
                                    description="清理杂物、修剪绿篱，工具由社区提供。", starts_at=day,
                                    ends_at=day + timedelta(hours=2), capacity=20, points_per_hour=10)
    for person in [resident.person] + neighbours:
        participation = services.add_volunteer(grid1, past, person)
        services.check_in(grid1, participation, at=day)
        services.check_out(grid1, participation, at=day + timedelta(hours=2 if person != neighbours[-1] else 1))
    services.confirm_activity(grid1, past)
    soon = (now + timedelta(days=5)).replace(hour=14, minute=0, second=0, microsecond=0)
    visit = services.create_activity(community_worker, community, title="敬老院探访", location="凤凰街道敬老院",
                                     description="陪老人聊天、读报，表演小节目。", starts_at=soon,
                                     ends_at=soon + timedelta(hours=2), capacity=15, points_per_activity=15)
    services.sign_up(resident, visit)
    services.create_activity(village_worker, village, title="村湾环境整治", location="月陂村文化广场",
                             starts_at=soon - timedelta(days=2), ends_at=soon - timedelta(days=2) + timedelta(hours=3),
                             capacity=30, points_per_hour=8)

    # Awards under the community's rules, a claim approved with its photo and one still waiting.
    for n, person in enumerate([resident.person] + neighbours):
        account = services.account_for_person(person)
        services.award(grid1, account, rule=c_rules["垃圾分类定点投放"], key=f"demo:sort:{n}")
        if n % 2 == 0:
            services.award(community_worker, account, rule=c_rules["参加居民议事会"], key=f"demo:meeting:{n}")
    services.award(community_worker, services.my_account(resident), amount=50, reason="2026年度优秀志愿者",
                   key="demo:volunteer-of-the-year")
    helped = services.submit_claim(resident, c_rules["邻里互助"], description="帮独居的王奶奶修好了水管。",
                                   evidence=image_upload("help.jpg"))
    services.approve_claim(grid1, helped)
    services.submit_claim(users["buildinghead"], c_rules["邻里互助"], description="陪同楼上老人去医院复查。",
                          evidence=image_upload("hospital.jpg"))

    # The village: household accounts and awards to households and villagers.
    households = rng.sample(list(Household.objects.filter(place__path__startswith=village.path).order_by("pk")[:100]),
                            k=8)
    for n, household in enumerate(households):
        account = services.open_household_account(village_worker, household)
        services.award(village_worker, account, rule=v_rules["门前三包"], key=f"demo:v-clean:{n}")
        if n % 3 == 0:
            services.award(village_worker, account, rule=v_rules["婚丧简办"], key=f"demo:v-custom:{n}")
        if n == 5:
            services.award(village_worker, account, rule=v_rules["乱堆乱放"], key=f"demo:v-mess:{n}")
    for n, person in enumerate(_adults(village, rng, 10)):
        services.award(village_worker, services.account_for_person(person), rule=v_rules["参加村民议事"],
                       key=f"demo:v-meeting:{n}")

    # The store: the community counter and partner merchants; one redemption collected, one waiting.
    services.create_item(community_worker, community, name="大米5斤", price=60, stock=20)
    soap = services.create_item(community_worker, community, name="洗衣液", price=30, stock=30)
    haircut = services.create_item(community_worker, community, name="理发券", price=20, stock=15,
                                   provider=Item.Provider.MERCHANT, merchant="湖畔理发店",
                                   description="凭领取码到湖畔理发店（滨湖花园东门）使用。")
    services.create_item(village_worker, village, name="食用油", price=50, stock=10)
    services.create_item(village_worker, village, name="化肥优惠券", price=40, stock=20,
                         provider=Item.Provider.MERCHANT, merchant="月陂农资店")
    services.redeem(resident, soap, key="demo:redeem:soap")
    collected = services.redeem(resident, haircut, key="demo:redeem:haircut")
    services.confirm_redemption(community_worker, collected.code)

    return {"points_accounts": Account.objects.count(), "points_entries": Entry.objects.count(),
            "points_redemptions": Redemption.objects.count()}
