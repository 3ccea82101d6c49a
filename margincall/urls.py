from django.contrib import admin
from django.urls import include, path

from .health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("console.urls")),
    path("admin/", admin.site.urls),
    path("", include("book.urls")),
    path("", include("risk.urls")),
    path("", include("liquidation.urls")),
    path("", include("notices.urls")),
    path("", include("recovery.urls")),
]
