from django.urls import path

from . import views

app_name = "deliberation"
urlpatterns = [
    path("", views.index, name="index"),
    path("my-votes/", views.my_votes, name="my_votes"),
    path("notices/", views.notices, name="notices"),
    path("topics/new/", views.topic_new, name="topic_new"),
    path("topics/<int:pk>/", views.topic_detail, name="topic"),
    path("places/<int:place_pk>/desk/", views.desk, name="desk"),
    path("places/<int:place_pk>/conventions/", views.conventions, name="conventions"),
    path("conventions/<int:pk>/", views.convention_detail, name="convention"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting"),
    path("meetings/<int:pk>/check-in/<str:code>/", views.meeting_check_in, name="check_in"),
    path("votes/<int:pk>/", views.vote_detail, name="vote"),
    path("resolutions/<int:pk>/", views.resolution_detail, name="resolution"),
    path("public/<int:place_pk>/", views.public, name="public"),
]
