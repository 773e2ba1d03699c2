from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("places/<int:place_pk>/households/new/", views.household_create, name="household_create"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("households/<int:household_pk>/visit/", views.visit_create, name="visit"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("places/<int:place_pk>/unvisited/", views.unvisited, name="unvisited"),
    path("places/<int:place_pk>/export/", views.export, name="export"),
    path("import/", views.import_page, name="import"),
    path("import/template.xlsx", views.import_template, name="import_template"),
]
