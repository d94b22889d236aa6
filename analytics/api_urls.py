from django.urls import path

from analytics import api

urlpatterns = [
    path("key", api.key_info, name="api-key-info"),
    path("event-counts", api.event_counts, name="api-event-counts"),
]
