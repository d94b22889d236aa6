from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.env import env_bool
from config.views import bench_hello, healthz
from projects.views.account import BeaconLoginView

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", BeaconLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("analytics.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # bench/ingest.py's hello-world baseline, routed only with BEACON_BENCH_ENDPOINTS=1; placed just
    # before the ingestion routes so that resolving it walks the same patterns as resolving /track.
    *(
        [path("bench/hello", bench_hello, name="bench-hello")]
        if env_bool("BEACON_BENCH_ENDPOINTS", False)
        else []
    ),
    path("", include("analytics.ingest.urls")),
    path("", include("analytics.urls")),
    path("", include("alerts.urls")),
    path("", include("projects.urls")),
]
