"""Ingestion routes, with the exact slashes each SDK sends (WIRE.md, "Routes, with exact slashes").

Each route takes an optional trailing slash, so APPEND_SLASH never redirects a POST.
"""

from django.urls import path, re_path

from analytics.ingest import sdk, views

NATIVE_VIEWS = {
    "track": views.NativeTrackView,
    "identify": views.NativeIdentifyView,
    "alias": views.NativeAliasView,
    "page": views.NativePageView,
    "screen": views.NativeScreenView,
}

urlpatterns = [
    path("sdk/<str:name>", sdk.sdk_file, name="sdk-file"),
    *(path(kind, view.as_view(), name=f"ingest-{kind}") for kind, view in NATIVE_VIEWS.items()),
    *(path(f"{kind}/", view.as_view()) for kind, view in NATIVE_VIEWS.items()),
    re_path(r"^v1/batch/?$", views.SegmentView.as_view(kind="batch"), name="ingest-segment-batch"),
    *(
        re_path(rf"^v1/{kind}/?$", views.SegmentView.as_view(kind=kind), name=f"ingest-segment-{kind}")
        for kind in ("track", "identify", "page", "screen", "alias", "group")
    ),
    re_path(r"^batch/?$", views.PostHogOrAmplitudeBatchView.as_view(), name="ingest-posthog-batch"),
    re_path(r"^capture/?$", views.PostHogView.as_view(), name="ingest-posthog-capture"),
    re_path(r"^e/?$", views.PostHogView.as_view(), name="ingest-posthog-e"),
    re_path(r"^i/v0/e/?$", views.PostHogView.as_view(), name="ingest-posthog-i-v0-e"),
    re_path(r"^2/httpapi/?$", views.AmplitudeView.as_view(), name="ingest-amplitude"),
    re_path(r"^engage/?$", views.MixpanelView.as_view(kind="engage"), name="ingest-mixpanel-engage"),
    re_path(r"^groups/?$", views.MixpanelView.as_view(kind="groups"), name="ingest-mixpanel-groups"),
    re_path(r"^import/?$", views.MixpanelView.as_view(kind="track"), name="ingest-mixpanel-import"),
]
