from django.urls import path

from . import views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("large-type/", views.toggle_large, name="toggle_large"),
]
