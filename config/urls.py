from django.contrib import admin
from django.urls import include, path

from config.views import healthz
from projects.views.account import BeaconLoginView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", BeaconLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("analytics.api_urls")),
    path("", include("projects.urls")),
]
