"""The alert pages (DESIGN.md section 8). Notifications link to ``alert-rule``, ``alert-event`` and
``alert-channel-deliveries``: links in inboxes outlive a release, keep those paths."""

from django.urls import path

from alerts.views import channels, history, rules

A = "projects/<slug:slug>/alerts/"

urlpatterns = [
    path(A, rules.rule_list, name="alert-rules"),
    path(A + "rules/new/", rules.rule_create, name="alert-rule-create"),
    path(A + "rules/preview/", rules.rule_preview, name="alert-rule-preview"),
    path(
        A + "rules/from-event/<int:event_definition_id>/", rules.rule_from_event, name="alert-rule-from-event"
    ),
    path(A + "rules/for-event/<int:event_definition_id>/", rules.event_alerts, name="alert-event-rules"),
    path(A + "rules/<int:rule_id>/", rules.rule_page, name="alert-rule"),
    path(A + "rules/<int:rule_id>/edit/", rules.rule_edit, name="alert-rule-edit"),
    path(A + "rules/<int:rule_id>/delete/", rules.rule_delete, name="alert-rule-delete"),
    path(A + "rules/<int:rule_id>/toggle/", rules.rule_toggle, name="alert-rule-toggle"),
    path(A + "rules/<int:rule_id>/mute/", rules.rule_mute, name="alert-rule-mute"),
    path(A + "channels/", channels.channel_list, name="alert-channels"),
    path(A + "channels/new/", channels.channel_create, name="alert-channel-create"),
    path(A + "channels/<int:channel_id>/edit/", channels.channel_edit, name="alert-channel-edit"),
    path(A + "channels/<int:channel_id>/enable/", channels.channel_enable, name="alert-channel-enable"),
    path(A + "channels/<int:channel_id>/delete/", channels.channel_delete, name="alert-channel-delete"),
    path(A + "channels/<int:channel_id>/test/", channels.channel_test, name="alert-channel-test"),
    path(
        A + "channels/<int:channel_id>/deliveries/",
        channels.channel_deliveries,
        name="alert-channel-deliveries",
    ),
    path(A + "history/", history.history, name="alert-history"),
    path(A + "history/<int:alert_event_id>/", history.alert_event_page, name="alert-event"),
    path(
        A + "history/<int:alert_event_id>/acknowledge/", history.alert_acknowledge, name="alert-acknowledge"
    ),
    path(A + "history/<int:alert_event_id>/comments/", history.alert_comment, name="alert-comment"),
]
