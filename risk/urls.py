from django.urls import path

from . import views

app_name = "risk"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("accounts/<str:account_no>/", views.AccountView.as_view(), name="account"),
]
