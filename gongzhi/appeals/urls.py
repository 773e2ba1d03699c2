from django.urls import path

from . import views

app_name = "appeals"
urlpatterns = [
    path("new/", views.submit, name="submit"),
    path("mine/", views.mine, name="mine"),
    path("inbox/", views.inbox, name="inbox"),
    path("board/", views.board, name="board"),
    path("metrics/", views.metrics, name="metrics"),
    path("subtasks/<int:pk>/done/", views.subtask_done, name="subtask_done"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/<str:action>/", views.act, name="act"),
]
