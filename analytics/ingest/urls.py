"""Ingestion routes, with the exact slashes each SDK sends (WIRE.md, "Routes, with exact slashes").

Each route takes an optional trailing slash, so APPEND_SLASH never redirects a POST.
"""

from django.urls import re_path

from analytics.ingest import views

urlpatterns = [
    re_path(r"^track/?$", views.NativeTrackView.as_view(), name="ingest-track"),
    re_path(r"^identify/?$", views.NativeIdentifyView.as_view(), name="ingest-identify"),
    re_path(r"^alias/?$", views.NativeAliasView.as_view(), name="ingest-alias"),
    re_path(r"^page/?$", views.NativePageView.as_view(), name="ingest-page"),
    re_path(r"^screen/?$", views.NativeScreenView.as_view(), name="ingest-screen"),
    re_path(r"^v1/batch/?$", views.SegmentView.as_view(kind="batch"), name="ingest-segment-batch"),
    *(
        re_path(rf"^v1/{kind}/?$", views.SegmentView.as_view(kind=kind), name=f"ingest-segment-{kind}")
        for kind in ("track", "identify", "page", "screen", "alias", "group")
    ),
    re_path(r"^batch/?$", views.PostHogView.as_view(), name="ingest-posthog-batch"),
    re_path(r"^capture/?$", views.PostHogView.as_view(), name="ingest-posthog-capture"),
    re_path(r"^e/?$", views.PostHogView.as_view(), name="ingest-posthog-e"),
    re_path(r"^i/v0/e/?$", views.PostHogView.as_view(), name="ingest-posthog-i-v0-e"),
]
