from django.urls import path

from . import views

app_name = "points"
urlpatterns = [
    path("", views.home, name="home"),
    path("store/", views.store, name="store"),
    path("store/<int:item_pk>/redeem/", views.redeem, name="redeem"),
    path("redemptions/<int:pk>/", views.redemption_detail, name="redemption"),
    path("activities/", views.activities, name="activities"),
    path("activities/<int:pk>/", views.activity_detail, name="activity"),
    path("check-in/<str:token>/", views.self_check_in, name="check_in"),
    path("claim/", views.claim, name="claim"),
    path("claims/<int:pk>/evidence/", views.claim_evidence, name="evidence"),
    path("counter/", views.counter, name="counter"),
    path("accounts/<int:pk>/", views.account_detail, name="account"),
    path("accounts/<int:pk>/volunteer-record.xlsx", views.volunteer_record, name="volunteer_record"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("rules/<int:pk>/toggle/", views.rule_toggle, name="rule_toggle"),
    path("places/<int:place_pk>/", views.place_dashboard, name="place"),
    path("places/<int:place_pk>/rules/", views.rules_page, name="rules"),
    path("places/<int:place_pk>/claims/", views.claims_page, name="claims"),
    path("places/<int:place_pk>/activities/new/", views.activity_new, name="activity_new"),
    path("places/<int:place_pk>/items/", views.items_page, name="items"),
    path("places/<int:place_pk>/report/", views.report_page, name="report"),
    path("places/<int:place_pk>/households/", views.households_page, name="households"),
    path("places/<int:place_pk>/policy/", views.policy, name="policy"),
    path("places/<int:place_pk>/leaderboard/", views.leaderboard, name="leaderboard"),
]
