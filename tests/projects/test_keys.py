from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from projects import keys
from projects.actions import do_create_api_key, do_revoke_api_key, do_rotate_api_key
from projects.models import ApiKey, ApiKeyKind

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(project):
    return project.environments.get(slug="production")


def test_a_new_key_authenticates_with_its_scope(production, owner):
    key, raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    assert keys.KEY_PATTERN.match(raw)
    info = keys.authenticate_key(raw)
    assert (info.key_id, info.project_id, info.environment_slug, info.kind) == (
        key.id,
        production.project_id,
        "production",
        "write",
    )
    assert not info.can_read()


def test_only_a_prefix_and_a_hash_are_stored(production, owner):
    key, raw = do_create_api_key(environment=production, kind=ApiKeyKind.SECRET, acting_user=owner)
    stored = ApiKey.objects.filter(id=key.id).values().get()
    assert raw not in [str(value) for value in stored.values()]
    assert stored["prefix"] == raw[:14]
    assert stored["key_hash"] == keys.hash_key(raw)


@pytest.mark.parametrize("raw", [None, "", "nope", "bcn_w_short", "bcn_x_" + "a" * 32, "bcn_w_" + "a" * 32])
def test_malformed_and_unknown_keys_are_refused(raw):
    assert keys.authenticate_key(raw) is None


def test_a_key_with_the_right_prefix_but_another_secret_is_refused(production, owner):
    _, raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    forged = raw[:14] + ("A" if raw[14] != "A" else "B") + raw[15:]
    assert keys.authenticate_key(forged) is None


def test_a_revoked_key_is_refused_at_once_even_when_cached(
    production, owner, django_capture_on_commit_callbacks
):
    key, raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    assert keys.authenticate_key(raw) is not None  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        do_revoke_api_key(key=key, acting_user=owner)
    assert keys.authenticate_key(raw) is None


def test_a_reader_that_raced_the_revoke_cannot_restore_the_key(
    production, owner, django_capture_on_commit_callbacks
):
    key, raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    stale = keys._load(raw, keys.hash_key(raw))  # read before the revoke committed
    with django_capture_on_commit_callbacks(execute=True):
        do_revoke_api_key(key=key, acting_user=owner)
    cache.add(keys._cache_key(key.key_hash), stale, keys.CACHE_SECONDS)  # what that reader does next
    assert keys.authenticate_key(raw) is None


def test_a_rotated_key_works_during_its_grace_period_and_not_after(
    production, owner, monkeypatch, django_capture_on_commit_callbacks
):
    old, old_raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    keys.authenticate_key(old_raw)
    with django_capture_on_commit_callbacks(execute=True):
        new, new_raw = do_rotate_api_key(key=old, grace_days=2, acting_user=owner)
    assert keys.authenticate_key(new_raw).key_id == new.id
    assert keys.authenticate_key(old_raw).key_id == old.id
    later = timezone.now() + timedelta(days=2, minutes=1)
    monkeypatch.setattr("django.utils.timezone.now", lambda: later)
    assert keys.authenticate_key(old_raw) is None
    assert keys.authenticate_key(new_raw) is not None


def test_a_rotation_without_grace_stops_the_old_key_now(
    production, owner, django_capture_on_commit_callbacks
):
    old, old_raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    keys.authenticate_key(old_raw)
    with django_capture_on_commit_callbacks(execute=True):
        do_rotate_api_key(key=old, grace_days=0, acting_user=owner)
    assert keys.authenticate_key(old_raw) is None


def test_a_cached_key_costs_no_database_query(production, owner, django_assert_num_queries):
    _, raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    keys.authenticate_key(raw)  # loads, caches, records last use
    with django_assert_num_queries(0):
        for _ in range(20):
            assert keys.authenticate_key(raw) is not None


def test_last_use_is_recorded_at_most_once_a_minute(production, owner):
    key, raw = do_create_api_key(environment=production, kind=ApiKeyKind.WRITE, acting_user=owner)
    keys.authenticate_key(raw)
    first = ApiKey.objects.get(id=key.id).last_used_at
    assert first is not None
    keys.authenticate_key(raw)
    assert ApiKey.objects.get(id=key.id).last_used_at == first


def test_a_key_for_one_environment_cannot_write_to_another(project, owner):
    staging = project.environments.get(slug="staging")
    _, raw = do_create_api_key(environment=staging, kind=ApiKeyKind.SECRET, acting_user=owner)
    info = keys.authenticate_key(raw)
    assert info.write_refusal("staging") is None
    refusal = info.write_refusal("production")
    assert "'staging'" in refusal and "'production'" in refusal
