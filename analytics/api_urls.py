from django.urls import path

from analytics import api

urlpatterns = [
    path("key", api.key_info, name="api-key-info"),
    path("event-counts", api.event_counts, name="api-event-counts"),
    path("plan", api.plan_snapshot, name="api-plan"),
    path("plan/codegen/typescript", api.plan_codegen_typescript, name="api-plan-codegen-typescript"),
    path("plan/codegen/python", api.plan_codegen_python, name="api-plan-codegen-python"),
]
