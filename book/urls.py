from django.urls import path

from . import api

app_name = "book"
urlpatterns = [
    path("api/ticks", api.TicksView.as_view(), name="api-ticks"),
    path("api/lending", api.LendingView.as_view(), name="api-lending"),
]
