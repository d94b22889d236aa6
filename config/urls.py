from django.contrib import admin
from django.urls import include, path

from config.views import healthz
from projects import views as project_views

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", project_views.home, name="home"),
    path("projects/<slug:slug>/", project_views.project_overview, name="project-overview"),
]
