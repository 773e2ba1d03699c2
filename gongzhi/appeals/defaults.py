"""The default appeal categories, with tiers and time limits after Beijing 12345 (see docs/appeals.md)."""

DANGER = (2, 24)        # danger to life or property: feedback within 2 hours
UTILITY = (24, 72)      # water, power, gas, heating: feedback within 24 hours
GENERAL = (24, 168)     # general: resolved within 7 days
COMPLEX = (24, 360)     # complex (disputes, property management, multi-party): 15 days

# code, name, default tier, department, (response h, resolve h), children
CATEGORIES = [
    ("environment", "环境卫生", "grid", "城管", GENERAL, [
        ("garbage", "垃圾清运", "grid", "城管", GENERAL),
        ("greenery", "绿化养护", "community", "园林", GENERAL),
    ]),
    ("property", "物业管理", "community", "住建", COMPLEX, []),
    ("facilities", "公共设施", "community", "城管", GENERAL, [
        ("lighting", "路灯照明", "community", "城管", GENERAL),
        ("roads", "道路井盖", "community", "城管", DANGER),
    ]),
    ("neighbours", "邻里纠纷", "grid", "司法所", COMPLEX, []),
    ("safety", "安全隐患", "grid", "应急管理", DANGER, [
        ("fire", "消防隐患", "grid", "消防", DANGER),
        ("building_safety", "房屋安全", "community", "住建", DANGER),
    ]),
    ("elderly_disabled", "助老助残", "community", "民政", GENERAL, []),
    ("utilities", "水电气暖", "subdistrict", "水电气暖", UTILITY, [
        ("water", "供水", "subdistrict", "供水", UTILITY),
        ("power", "供电", "subdistrict", "供电", UTILITY),
        ("gas", "燃气", "subdistrict", "燃气", DANGER),
        ("heating", "供暖", "subdistrict", "供暖", UTILITY),
    ]),
    ("parking", "停车", "community", "交管", COMPLEX, []),
    ("noise", "噪音", "grid", "派出所", GENERAL, []),
    ("pets", "宠物", "grid", "城管", GENERAL, []),
    ("delivery", "快递进门难", "community", "邮政管理", COMPLEX, []),
    ("policy", "政策咨询", "community", "", GENERAL, []),
    ("other", "其他", "grid", "", GENERAL, []),
]


def seed(Category):
    """Create the default categories that are missing (idempotent); used by the migration and by tests."""
    for order, (code, name, tier, dept, (resp, res), children) in enumerate(CATEGORIES):
        parent, _ = Category.objects.get_or_create(code=code, defaults=dict(
            name=name, default_tier=tier, department=dept, response_hours=resp, resolve_hours=res, order=order * 10))
        for sub, (ccode, cname, ctier, cdept, (cresp, cres)) in enumerate(children):
            Category.objects.get_or_create(code=ccode, defaults=dict(
                parent=parent, name=cname, default_tier=ctier, department=cdept, response_hours=cresp,
                resolve_hours=cres, order=order * 10 + sub + 1))
