import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_int, env_list, env_str


def test_it_reads_booleans_in_the_usual_spellings(monkeypatch):
    for raw, expected in [("1", True), ("TRUE", True), ("yes", True), ("off", False), ("0", False)]:
        monkeypatch.setenv("X_FLAG", raw)
        assert env_bool("X_FLAG", not expected) is expected


def test_it_refuses_a_boolean_it_cannot_read(monkeypatch):
    monkeypatch.setenv("X_FLAG", "ture")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='ture' is not a boolean"):
        env_bool("X_FLAG", False)


def test_it_uses_the_default_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("X_NUMBER", raising=False)
    assert env_int("X_NUMBER", 7) == 7
    monkeypatch.setenv("X_NUMBER", "  ")
    assert env_int("X_NUMBER", 7) == 7


def test_it_refuses_numbers_out_of_range_or_not_numbers(monkeypatch):
    monkeypatch.setenv("X_NUMBER", "seven")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUMBER", 7)
    monkeypatch.setenv("X_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="below the minimum of 1"):
        env_int("X_NUMBER", 7, minimum=1)
    monkeypatch.setenv("X_NUMBER", "99")
    with pytest.raises(ImproperlyConfigured, match="above the maximum of 60"):
        env_int("X_NUMBER", 7, maximum=60)


def test_it_refuses_a_choice_outside_the_list(monkeypatch):
    monkeypatch.setenv("X_BACKEND", "mysql")
    with pytest.raises(ImproperlyConfigured, match="X_BACKEND='mysql' is not one of auto, postgres"):
        env_choice("X_BACKEND", "auto", ["auto", "postgres"])


def test_it_requires_what_is_required(monkeypatch):
    monkeypatch.delenv("X_SECRET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="X_SECRET must be set"):
        env_str("X_SECRET", required=True)


def test_it_splits_lists_and_drops_empty_items(monkeypatch):
    monkeypatch.setenv("X_HOSTS", "a.example.com, b.example.com,,")
    assert env_list("X_HOSTS") == ["a.example.com", "b.example.com"]


def test_settings_fail_loudly_on_a_bad_value():
    """A real start-up: a typo in the environment stops Django with the variable's name."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "BEACON_STORAGE_BACKEND": "mongodb",
            "PATH": "/usr/bin",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "BEACON_STORAGE_BACKEND='mongodb' is not one of auto, timescaledb, postgres" in result.stderr
