from django.urls import path

from . import views

app_name = "recovery"
urlpatterns = [
    path("recovery/covered-calls/", views.CoveredCallListView.as_view(), name="covered-calls"),
    path("recovery/covered-calls/events/", views.case_events, name="case-events"),
    path("recovery/covered-calls/<int:pk>/", views.CoveredCallDetailView.as_view(), name="covered-call"),
    path("recovery/covered-calls/<int:pk>/status/", views.CaseStatusView.as_view(), name="case-status"),
    path("recovery/short-stock/", views.ShortStockListView.as_view(), name="short-stock"),
    path("recovery/short-stock/<int:pk>/", views.ShortStockDetailView.as_view(), name="short-item"),
    path("recovery/short-stock/<int:pk>/status/", views.ShortStatusView.as_view(), name="short-status"),
    path("recovery/lending/", views.LendingView.as_view(), name="lending"),
    path("recovery/lending/status/", views.PoolStatusView.as_view(), name="pool-status"),
    path("recovery/buy-back/", views.BuyBackView.as_view(), name="buy-back"),
    path("recovery/message/", views.MessageView.as_view(), name="message"),
]
