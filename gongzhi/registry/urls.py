from django.urls import path

from . import views

app_name = "registry"
urlpatterns = [
    path("places/<int:place_pk>/households/new/", views.household_create, name="household_create"),
    path("households/<int:pk>/", views.household_detail, name="household"),
    path("households/<int:household_pk>/visit/", views.visit_create, name="visit"),
    path("persons/<int:pk>/", views.person_detail, name="person"),
    path("persons/<int:pk>/departure/", views.person_departure, name="person_departure"),
    path("persons/<int:pk>/anonymise/", views.person_anonymise, name="person_anonymise"),
    path("privacy/", views.privacy, name="privacy"),
    path("my-data/", views.my_data, name="my_data"),
    path("my-data/download.<str:fmt>", views.my_data_download, name="my_data_download"),
    path("places/<int:place_pk>/unvisited/", views.unvisited, name="unvisited"),
    path("places/<int:place_pk>/export/", views.export, name="export"),
    path("import/", views.import_page, name="import"),
    path("import/template.xlsx", views.import_template, name="import_template"),
]
