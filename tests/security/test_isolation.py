"""Tenant isolation across every route, built from the URL resolver (DESIGN.md section 3).

1. Every route is classified: a project or organization route (its URL names a project or an
   organization), a query API route (a key or a session), or a listed public route. A new route that
   is none of these fails `test_every_route_is_covered_by_an_isolation_check`.
2. An outsider (logged in, another organization) gets 404 on every project and organization route,
   GET and POST, with project A's real slugs and ids.
3. Project B's owner gets 404 on A's object ids placed in B's URLs, one id at a time (so a tile of
   another dashboard, or a test case of another event, is refused too), GET and POST.
4. The query API: another project's secret key gets 404, a write key 403, a revoked key 401;
   ingestion refuses a revoked key (401) and another environment's key.
"""

import json
import re
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from analytics.plan.snapshot import export_plan
from projects.actions import do_create_api_key, do_revoke_api_key
from projects.models import ApiKey, ApiKeyKind
from tests.analytics.ingest import post as ingest_post
from tests.conftest import make_project, make_user
from tests.security.objects import World, build_world, url_kwargs

pytestmark = pytest.mark.django_db

# Routes anyone may open (or that authenticate with a key of their own, checked below and in
# tests/analytics/test_ingest_*.py). Keys: the route as the resolver spells it; a trailing `*` is a
# prefix.
PUBLIC_ROUTES = {
    "": "the projects list: only the user's own (tests/projects/test_views.py)",
    "healthz": "liveness probe, no tenant data",
    "bench/hello": "benchmark baseline, routed only with BEACON_BENCH_ENDPOINTS",
    "accounts/*": "login, logout, password reset (django.contrib.auth)",
    "signup/": "creates a new organization",
    "projects/new/": "creates a project in one of the user's organizations",
    "invitations/<str:token>/": "the secret token is the credential",
    "admin/*": "staff only (test_the_admin_is_for_staff_only)",
    "api/schema/": "the OpenAPI schema, no tenant data",
    "api/docs/": "Swagger UI, no tenant data",
    "sdk/<str:name>": "the browser SDK file",
    "demo/shop/": "the public demo store",
    "demo/shop/<path:route>": "the public demo store",
}
# Ingestion: every route in analytics/ingest/urls.py but the SDK file. Keys authenticate them.
INGEST_MODULE = "analytics.ingest.views"

# The query API (analytics/api_urls.py): how each route is called with a key.
API_ROUTES = {
    "api-key-info": ("GET", "/api/v1/key", None),
    "api-event-counts": ("GET", "/api/v1/event-counts", None),
    "api-plan": ("GET", "/api/v1/plan", None),
    "api-plan-codegen-typescript": ("GET", "/api/v1/plan/codegen/typescript", None),
    "api-plan-codegen-python": ("GET", "/api/v1/plan/codegen/python", None),
    "api-query-trends": ("POST", "/api/v1/query/trends", {"series": [{"event": "purchase"}]}),
    "api-query-funnels": ("POST", "/api/v1/query/funnels", {"steps": ["a", "b"]}),
    "api-query-retention": ("POST", "/api/v1/query/retention", {"cohort_event": "a", "return_event": "b"}),
    "api-insight": ("GET", "/api/v1/insights/{insight_id}", None),
}
# Routes that name no project: they answer about the key's own (a `?project=` is not read).
KEY_SCOPED_API_ROUTES = {"api-key-info", "api-plan", "api-plan-codegen-typescript", "api-plan-codegen-python"}

TENANT_KWARGS = {"slug", "org_slug"}
# Keyword arguments that are not database ids: per-project names and numbers, formats, stream ids.
NOT_OBJECT_IDS = TENANT_KWARGS | {
    "environment_slug",
    "number",
    "format_name",
    "language",
    "entry_id",
    "index",
}

KNOWN_KWARGS = {
    "slug", "org_slug", "environment_slug", "event_id", "event_definition_id", "prop_id", "group_id",
    "number", "case_id", "session_id", "release_id", "insight_id", "dashboard_id", "tile_id", "rule_id",
    "channel_id", "alert_event_id", "key_id", "membership_id", "invitation_id", "format_name",
    "language", "entry_id", "index", "job_id",
}  # fmt: skip


@dataclass(frozen=True)
class Route:
    pattern: str  # as the resolver spells it, e.g. "projects/<slug:slug>/keys/<int:key_id>/rotate/"
    name: str | None
    namespace: str | None
    module: str

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.pattern) + re.findall(r"\(\?P<(\w+)>", self.pattern)

    @property
    def is_tenant(self) -> bool:
        return bool(TENANT_KWARGS & set(self.kwargs))

    def url(self, kwargs: dict) -> str:
        name = f"{self.namespace}:{self.name}" if self.namespace else self.name
        return reverse(name, kwargs=kwargs)


def all_routes(patterns=None, prefix: str = "", namespace: str | None = None) -> list[Route]:
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            routes += all_routes(
                entry.url_patterns, prefix + str(entry.pattern), entry.namespace or namespace
            )
        elif isinstance(entry, URLPattern):
            callback = entry.callback
            module = getattr(callback, "view_class", callback).__module__
            routes.append(Route(prefix + str(entry.pattern), entry.name, namespace, module))
    return routes


def is_public(route: Route) -> bool:
    if route.module == INGEST_MODULE:
        return True
    return any(
        route.pattern.startswith(key[:-1]) if key.endswith("*") else route.pattern == key
        for key in PUBLIC_ROUTES
    )


def tenant_routes() -> list[Route]:
    return [route for route in all_routes() if route.is_tenant]


@pytest.fixture
def two_projects(db):
    """Projects A and B of two organizations, each with one of every object, and their owners."""
    owner_a, owner_b = make_user("iso-owner-a"), make_user("iso-owner-b")
    world_a = build_world(make_project(owner=owner_a), owner_a)
    world_b = build_world(make_project(owner=owner_b), owner_b)
    return world_a, world_b, owner_a, owner_b


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def answers(client: Client, url: str) -> dict[str, int]:
    return {method: getattr(client, method.lower())(url).status_code for method in ("GET", "POST")}


def ghost_kwargs(names) -> dict:
    """Arguments naming nothing at all: what a stranger's URL must look like from outside."""
    made_up = {"slug": "no-such-project", "org_slug": "no-such-org", "environment_slug": "staging"}
    made_up |= {"format_name": "json", "language": "typescript", "entry_id": "1-0"}
    return {name: made_up.get(name, 999_999_999) for name in names}


def refusals(client: Client, route: "Route", url: str, label: str) -> list[str]:
    """404 for each method, or the 405 a made-up URL of the route gets too (the route does not take
    that method at all): either way the answer says nothing about what exists."""
    ghost = answers(client, route.url(ghost_kwargs(route.kwargs)))
    return [
        f"{method} {url} ({route.name}{label}): {status}"
        for method, status in answers(client, url).items()
        if not (status == 404 or (status == 405 and ghost[method] == 405))
    ]


# --- 1. coverage --------------------------------------------------------------------------------------


def test_every_route_is_covered_by_an_isolation_check():
    routes = all_routes()
    uncovered = [
        route.pattern
        for route in routes
        if not (route.is_tenant or is_public(route) or route.name in API_ROUTES)
    ]
    assert not uncovered, (
        "New routes without an isolation check: give them the project's slug (and scope them with "
        "projects.access), add them to API_ROUTES, or list them in PUBLIC_ROUTES with a reason: "
        f"{uncovered}"
    )
    api_names = {route.name for route in routes if route.pattern.startswith("api/v1/")}
    assert api_names == set(API_ROUTES), "API_ROUTES must list the query API's routes exactly"
    unknown = {kwarg for route in routes if route.is_tenant for kwarg in route.kwargs} - KNOWN_KWARGS
    assert not unknown, f"tests/security/objects.py builds no object for these URL arguments: {unknown}"


def test_the_route_table_sees_the_routes_it_must_check():
    """A guard on the walk itself: if the resolver changed shape, the tables above would be empty."""
    patterns = {route.pattern for route in tenant_routes()}
    assert len(patterns) > 80
    for expected in (
        "projects/<slug:slug>/keys/<int:key_id>/revoke/",
        "projects/<slug:slug>/alerts/channels/<int:channel_id>/edit/",
        "projects/<slug:slug>/analysis/dashboards/<int:dashboard_id>/tiles/<int:tile_id>/",
        "orgs/<slug:org_slug>/members/<int:membership_id>/role/",
    ):
        assert expected in patterns


# --- 2. outsiders --------------------------------------------------------------------------------------


def test_an_outsider_gets_404_on_every_project_and_organization_route(two_projects, outsider):
    world_a, _, _, _ = two_projects
    make_project(owner=outsider)  # a user with projects of their own
    client = logged_in(outsider)
    leaks = []
    for route in tenant_routes():
        url = route.url(url_kwargs(world_a, route.kwargs))
        leaks += refusals(client, route, url, "")
    assert not leaks, "An outsider must get 404:\n" + "\n".join(leaks)


# --- 3. another project's ids in my URLs ----------------------------------------------------------------


def cross_project_urls(world_a: World, world_b: World):
    """B's URL of each route with one object id (in turn) taken from A."""
    for route in tenant_routes():
        for foreign in [kwarg for kwarg in route.kwargs if kwarg not in NOT_OBJECT_IDS]:
            kwargs = url_kwargs(world_b, route.kwargs)
            kwargs[foreign] = world_a.ids[foreign]
            yield route, foreign, route.url(kwargs)


def test_another_projects_object_ids_in_my_urls_get_404(two_projects):
    world_a, world_b, _, owner_b = two_projects
    client = logged_in(owner_b)
    leaks = []
    checked = 0
    for route, foreign, url in cross_project_urls(world_a, world_b):
        checked += 1
        leaks += refusals(client, route, url, f", {foreign} of project A")
    assert checked > 40
    assert not leaks, "Project B's owner must get 404 on project A's objects:\n" + "\n".join(leaks)


def test_my_own_urls_answer_so_the_404s_above_mean_something(two_projects):
    """The same routes with B's own ids do not 404 (a page, a redirect, a 405 for the wrong method)."""
    _, world_b, _, owner_b = two_projects
    client = logged_in(owner_b)
    missing = []
    for route in tenant_routes():
        if "entry_id" in route.kwargs:  # a live feed entry only exists while events stream
            continue
        url = route.url(url_kwargs(world_b, route.kwargs))
        if client.get(url).status_code == 404 and client.post(url).status_code == 404:
            missing.append(f"{url} ({route.name})")
    assert not missing, "These routes 404 for the project's own owner:\n" + "\n".join(missing)


def test_the_admin_is_for_staff_only(two_projects):
    _, _, owner_a, _ = two_projects
    response = logged_in(owner_a).get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# --- 4. keys ---------------------------------------------------------------------------------------------


def call_api(client: Client, name: str, world: World, key: str, **query) -> int:
    method, path, body = API_ROUTES[name]
    path = path.format(**world.ids)
    if query:
        path += "?" + "&".join(f"{field}={value}" for field, value in query.items())
    headers = {"X-API-Key": key}
    if method == "GET":
        return client.get(path, headers=headers).status_code
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers).status_code


def test_another_projects_secret_key_gets_404_on_the_query_api(two_projects):
    world_a, world_b, _, _ = two_projects
    client = Client()
    secret_b = world_b.raw_keys["secret"]
    wrong = {}
    for name in set(API_ROUTES) - KEY_SCOPED_API_ROUTES:
        status = call_api(client, name, world_a, secret_b, project=world_a.project.slug)
        if status != 404:
            wrong[name] = status
    assert call_api(client, "api-insight", world_a, secret_b) == 404  # A's insight id, B's key
    assert not wrong, f"B's secret key reading project A must get 404: {wrong}"


def test_routes_that_name_no_project_answer_about_the_keys_own(two_projects):
    world_a, world_b, _, _ = two_projects
    client = Client()
    headers = {"X-API-Key": world_b.raw_keys["secret"]}
    query = f"?project={world_a.project.slug}"
    assert client.get("/api/v1/key" + query, headers=headers).json()["project"] == world_b.project.slug
    plan = client.get("/api/v1/plan" + query, headers=headers)
    assert plan.status_code == 200 and plan.json() == export_plan(world_b.project.id)
    for language in ("typescript", "python"):
        module = client.get(f"/api/v1/plan/codegen/{language}" + query, headers=headers)
        assert module.status_code == 200
        assert world_b.project.slug.replace("-", "_") in module["Content-Disposition"].replace("-", "_")


def test_a_write_key_gets_403_on_every_read_endpoint(two_projects):
    world_a, _, _, _ = two_projects
    client = Client()
    write_a = world_a.raw_keys["write"]
    statuses = {name: call_api(client, name, world_a, write_a) for name in API_ROUTES}
    assert statuses.pop("api-key-info") == 200
    assert set(statuses.values()) == {403}, statuses


def test_a_revoked_key_gets_401_everywhere(two_projects):
    world_a, _, owner_a, _ = two_projects
    do_revoke_api_key(key=ApiKey.objects.get(id=world_a.ids["secret_key_id"]), acting_user=owner_a)
    client = Client()
    statuses = {name: call_api(client, name, world_a, world_a.raw_keys["secret"]) for name in API_ROUTES}
    assert set(statuses.values()) == {401}, statuses


def test_ingestion_refuses_a_revoked_key_and_another_environments_key(two_projects, streams):
    world_a, _, owner_a, _ = two_projects
    event = {"environment": "production", "event": "purchase", "distinct_id": "u1", "properties": {}}
    staging = world_a.project.environments.get(slug="staging")
    _, staging_key = do_create_api_key(environment=staging, kind=ApiKeyKind.WRITE, acting_user=owner_a)
    client = Client()

    refused = ingest_post(client, "/track", event, key=staging_key)
    assert refused.status_code == 400
    assert refused.json()["rejected"][0]["reason"] == "environment-mismatch"

    do_revoke_api_key(key=ApiKey.objects.get(id=world_a.ids["key_id"]), acting_user=owner_a)
    bodies = {
        "/track": event,
        "/v1/batch": {"batch": [{"type": "track", "event": "purchase", "userId": "u1"}]},
        "/capture/": {"event": "purchase", "distinct_id": "u1", "properties": {}},
    }
    for path, body in bodies.items():
        assert ingest_post(client, path, body, key=world_a.raw_keys["write"]).status_code == 401, path


# --- 5. CSRF -------------------------------------------------------------------------------------------


def test_every_page_refuses_a_post_without_its_csrf_token(two_projects):
    """Every project and organization route, posted by its own owner from a client that enforces CSRF
    as a browser would, without the token: 403, or 405 where the route takes no POST at all."""
    _, world_b, _, owner_b = two_projects
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner_b)
    unguarded, refused = [], 0
    for route in tenant_routes():
        url = route.url(url_kwargs(world_b, route.kwargs))
        status = client.post(url, {"name": "x"}).status_code
        refused += status == 403
        if status not in (403, 405):
            unguarded.append(f"POST {url} ({route.name}): {status}")
    assert refused > 40  # the writes really were refused for the missing token, not skipped
    assert not unguarded, "These accept a POST without a CSRF token:\n" + "\n".join(unguarded)
