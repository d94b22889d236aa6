"""What notifications say: the numbers in words, the window, the links, from tolerant reads of JSON."""

from datetime import UTC, datetime

import pytest

from alerts import messages
from alerts.messages import message_for
from alerts.models import RuleKind
from tests.alerts.factories import make_channel, make_fired_event, make_resolved_event, make_rule

WINDOW_END = datetime(2025, 3, 4, 14, 15, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.PUBLIC_URL = "https://beacon.example/"


def test_it_says_which_project_environment_rule_and_numbers_fired(project):
    rule = make_rule(project)
    fired = make_fired_event(rule, window_end=WINDOW_END)

    message = message_for(fired)

    assert message.type == "alert.fired"
    assert message.subject == f"[Critical] Checkout volume low is firing ({project.name} / production)"
    assert message.summary == "12 `checkout` events in the last 15 min, below the threshold of 50."
    assert dict(message.details) == {
        "Rule": "Checkout volume low (Volume below)",
        "Severity": "Critical",
        "Window": "2025-03-04 14:00–14:15 UTC",
    }
    assert message.links == {
        "chart": f"https://beacon.example/projects/{project.slug}/alerts/rules/{rule.id}/",
        "alert": f"https://beacon.example/projects/{project.slug}/alerts/history/{fired.id}/",
    }
    assert message.alert["state"] == "firing"
    assert message.alert["window_end"] == "2025-03-04T14:15:00+00:00"


def test_it_shows_the_window_in_the_projects_timezone(project):
    project.timezone = "Asia/Shanghai"
    project.save()
    fired = make_fired_event(make_rule(project), window_end=WINDOW_END)

    assert dict(message_for(fired).details)["Window"] == "2025-03-04 22:00–22:15 CST"


@pytest.mark.parametrize(
    "rule_fields,values,summary",
    [
        (
            {
                "kind": RuleKind.RATE_BELOW,
                "event": "purchase",
                "denominator_event": "checkout",
                "threshold": 10,
            },
            {"value": 2.5, "numerator": 5, "denominator": 200, "threshold": 10, "unit": "percent"},
            "`purchase` per `checkout` was 2.5% (5 of 200) in the last 15 min, below the threshold of 10%.",
        ),
        (
            {"kind": RuleKind.ANOMALY, "threshold": None, "window_minutes": 60},
            {
                "value": 12,
                "count": 12,
                "comparison": "below",
                "mean": 48,
                "stddev": 9.25,
                "lower": 20.25,
                "upper": 75.75,
            },
            "12 `checkout` events in the last 60 min, below the expected range 20.25–75.75 "
            "(mean 48 ± 9.25 in past weeks).",
        ),
        (
            {"kind": RuleKind.ABSENCE, "threshold": None},
            {"minutes_since_last": 32},
            "No `checkout` event for 32 min (the rule allows 15 min).",
        ),
        (
            {
                "kind": RuleKind.PROPERTY_ABOVE,
                "event": "page_view",
                "property": "load_ms",
                "aggregate": "p95",
                "threshold": 2500,
            },
            {"value": 3200, "threshold": 2500, "unit": "ms"},
            "The 95th percentile of `load_ms` on `page_view` was 3,200 ms in the last 15 min, "
            "above the threshold of 2,500 ms.",
        ),
        (
            {"kind": RuleKind.VIOLATIONS_ABOVE, "event": "", "threshold": 20, "window_minutes": 180},
            {"value": 37, "count": 37},
            "37 tracking-plan violations in the last 3 h, above the threshold of 20.",
        ),
    ],
)
def test_it_puts_each_rule_kind_in_words(project, rule_fields, values, summary):
    fired = make_fired_event(make_rule(project, **rule_fields), values=values, value=values.get("value"))

    assert message_for(fired).summary == summary


def test_it_reads_what_it_can_when_values_and_snapshot_are_empty(project):
    fired = make_fired_event(make_rule(project), values={}, rule_snapshot={}, value=None, threshold=None)

    message = message_for(fired)

    assert message.summary == "? `checkout` events in the last 15 min, below the threshold of 50."
    assert message.rule["name"] == "Checkout volume low"


def test_it_says_a_resolution_is_resolved_and_how_long_it_fired(project):
    fired = make_fired_event(make_rule(project))
    resolved = make_resolved_event(fired)

    message = message_for(resolved)

    assert message.type == "alert.resolved"
    assert message.subject.startswith("[Resolved] Checkout volume low is resolved")
    assert message.summary == (
        "Resolved after firing for 42 min. Now 60 `checkout` events in the last 15 min (threshold 50)."
    )
    assert dict(message.details)["Fired for"] == "42 min"
    assert message.alert["state"] == "resolved"
    assert message.alert["fired_at"] == fired.created_at.isoformat()


def test_it_writes_a_test_message_naming_the_channel_and_who_sent_it(project, owner):
    channel = make_channel(project, "email", {"addresses": ["ops@example.com"]}, name="Ops mail")

    message = messages.test_message(channel, acting_user=owner)

    assert message.type == "test"
    assert message.subject == f"[Test] Test message from Beacon ({project.name})"
    assert dict(message.details) == {"Channel": "Ops mail (Email)", "Sent by": owner.email}
    assert message.links == {
        "channel": f"https://beacon.example/projects/{project.slug}/alerts/channels/{channel.id}/deliveries/"
    }
    assert message.rule is None and message.alert is None
