"""The demo shop page (`make run` serves it) and the SDK files at their stable URLs."""

import io

import pytest
from django.core.management import call_command

from analytics.demo_shop import ShopConfig, load_config, save_config
from projects.actions import do_revoke_api_key
from projects.models import ApiKey
from tests.analytics.ingest import new_key
from tests.conftest import make_project

pytestmark = pytest.mark.django_db


def test_it_is_not_served_until_seed_demo_gives_it_a_key(client):
    response = client.get("/demo/shop/")
    assert response.status_code == 404


def test_seed_demo_gives_the_shop_a_write_key_of_the_demo_production_once(client, store):
    call_command("seed_demo", days=1, sessions_per_hour=4, stdout=io.StringIO())
    config = load_config()
    assert config is not None and config.project == "demo-shop" and config.environment == "production"
    call_command("seed_demo", days=1, sessions_per_hour=4, stdout=io.StringIO())
    assert load_config() == config
    assert ApiKey.objects.filter(project__slug="demo-shop", name="Demo shop (browser)").count() == 1


def test_every_route_serves_the_instrumented_page(client, owner):
    project = make_project(owner=owner)
    key = new_key(project, owner)
    save_config(ShopConfig(write_key=key, environment="production", project=project.slug))
    for path in ("/demo/shop/", "/demo/shop/products/sku-1003", "/demo/shop/cart", "/demo/shop/checkout"):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        assert f'data-beacon-key="{key}"' in html and 'data-beacon-environment="production"' in html
        assert '<script src="/sdk/beacon.min.js" defer></script>' in html
        assert '<meta name="app-version" content="1.5.0">' in html
        assert '"sku-1003"' in html  # the products, as JSON for the script


def test_a_revoked_key_takes_the_shop_down(client, owner):
    project = make_project(owner=owner)
    key = new_key(project, owner)
    save_config(ShopConfig(write_key=key, environment="production", project=project.slug))
    do_revoke_api_key(key=ApiKey.objects.get(project=project), acting_user=owner)
    assert client.get("/demo/shop/").status_code == 404


@pytest.mark.parametrize("name", ["beacon.js", "beacon.min.js"])
def test_the_sdk_is_served_at_a_stable_url_with_caching_headers(client, name):
    response = client.get(f"/sdk/{name}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response["Cache-Control"] == "public, max-age=3600, stale-while-revalidate=86400"
    assert response["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert b"beacon" in response.content
    etag = response["ETag"]
    again = client.get(f"/sdk/{name}", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""


def test_only_the_sdk_files_are_served_and_only_to_get(client):
    assert client.get("/sdk/settings.py").status_code == 404
    assert client.get("/sdk/../config/settings.py").status_code == 404
    assert client.post("/sdk/beacon.js").status_code == 405
