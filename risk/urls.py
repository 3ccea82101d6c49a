from django.urls import path

from . import api, views

app_name = "risk"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("api/ticks", api.TicksView.as_view(), name="api-ticks"),
    path("accounts/<str:account_no>/", views.AccountView.as_view(), name="account"),
]
