from django.urls import path

from . import api, views

app_name = "notices"
urlpatterns = [
    path("notices/", views.DeliveryListView.as_view(), name="list"),
    path("notices/send/", views.SendView.as_view(), name="send"),
    path("notices/preview/", views.PreviewView.as_view(), name="preview"),
    path("notices/resend/", views.ResendView.as_view(), name="resend"),
    path("api/notices/status", api.StatusView.as_view(), name="api-status"),
]
