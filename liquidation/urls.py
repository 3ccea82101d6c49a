from django.urls import path

from . import views

app_name = "liquidation"
urlpatterns = [
    path("liquidation/orders/", views.OrderListView.as_view(), name="orders"),
    path("liquidation/orders/events/", views.order_events, name="order-events"),
    path("calls/<int:pk>/orders/", views.CallOrdersView.as_view(), name="call-orders"),
    path("liquidation/orders/cancel/", views.CancelOrdersView.as_view(), name="cancel"),
    path("calls/<int:pk>/liquidate/", views.CallLiquidateView.as_view(), name="call-liquidate"),
    path("calls/liquidate/", views.BatchView.as_view(), name="batch"),
    path("calls/liquidate/preview/", views.BatchPreviewView.as_view(), name="batch-preview"),
    path("liquidation/batches/<int:pk>/", views.BatchDetailView.as_view(), name="batch-detail"),
    path("calls/<int:pk>/liquidation-preview/", views.PreviewView.as_view(), name="preview"),
]
