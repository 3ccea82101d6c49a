from django.urls import path

from . import call_views, views

app_name = "risk"
urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("risk-warning/", call_views.CallListView.as_view(), name="warning"),
    path("intraday/", call_views.IntradayListView.as_view(), name="intraday"),
    path("history/", call_views.HistoryView.as_view(), name="history"),
    path("calls/events/<str:kind>/", call_views.call_events, name="call-events"),
    path("calls/freshness/", call_views.FreshnessView.as_view(), name="freshness"),
    path("calls/exception/", call_views.ExceptionBatchView.as_view(), name="exception-batch"),
    path("calls/<int:pk>/", call_views.CallDetailView.as_view(), name="call"),
    path("calls/<int:pk>/snapshots/<int:snapshot_pk>/", call_views.SnapshotView.as_view(), name="snapshot"),
    path("calls/<int:pk>/remark/", call_views.RemarkView.as_view(), name="call-remark"),
    path("calls/<int:pk>/deadline/", call_views.DeadlineView.as_view(), name="call-deadline"),
    path("calls/<int:pk>/exception/", call_views.CallExceptionView.as_view(), name="call-exception"),
    path("calls/<int:pk>/end/", call_views.EndCallView.as_view(), name="call-end"),
    # An account number may hold a slash (X/1): the rest of the path is the number.
    path("accounts/<path:account_no>/", views.AccountView.as_view(), name="account"),
]
