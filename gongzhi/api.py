"""The HTTP API: every app's router on the one NinjaAPI instance, served under /api/."""

from gongzhi.accounts.api import router as accounts_router
from gongzhi.appeals.api import router as appeals_router
from gongzhi.core.api import api
from gongzhi.deliberation.api import router as deliberation_router
from gongzhi.places.api import router as places_router
from gongzhi.points.api import router as points_router
from gongzhi.registry.api import router as registry_router

api.add_router("/auth", accounts_router)
api.add_router("/places", places_router)
api.add_router("/registry", registry_router)
api.add_router("/appeals", appeals_router)
api.add_router("/deliberation", deliberation_router)
api.add_router("/points", points_router)
