from django.urls import path

from . import views

app_name = "deliberation"
urlpatterns = [
    path("", views.index, name="index"),
    path("topics/new/", views.topic_new, name="topic_new"),
    path("topics/<int:pk>/", views.topic_detail, name="topic"),
    path("places/<int:place_pk>/desk/", views.desk, name="desk"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting"),
    path("votes/<int:pk>/", views.vote_detail, name="vote"),
    path("resolutions/<int:pk>/", views.resolution_detail, name="resolution"),
    path("public/<int:place_pk>/", views.public, name="public"),
]
