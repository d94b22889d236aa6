"""Accounts in a real Chromium: signing up, projects and their API keys, revoking, invitations, login lock-out."""

import ipaddress
import re
import uuid

import pytest
from django.core import mail
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from projects.actions import do_create_api_key
from projects.models import ApiKeyKind
from tests.conftest import make_project, make_user

pytestmark = pytest.mark.django_db(transaction=True)

STRONG_PASSWORD = "correct-horse-battery-9"
FIXTURE_PASSWORD = "pw-unused-123"  # tests.conftest.make_user gives every user this password
RAW_KEY = re.compile(r"^bcn_[ws]_[A-Za-z0-9]{32}$")
PREFIX_LENGTH = 14
INVITATION_LINK = re.compile(r"https?://\S+/invitations/[A-Za-z0-9_\-]+/")


def wait_for_htmx(page) -> None:
    try:
        page.wait_for_function("() => window.htmx !== undefined", timeout=10_000)
    except PlaywrightTimeoutError:
        pytest.fail(f"htmx never loaded on {page.url}")


def sign_up(page, *, email: str, organization: str) -> None:
    page.goto("/signup/")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", STRONG_PASSWORD)
    page.fill("input[name=organization_name]", organization)
    page.get_by_role("button", name="Sign up").click()


def raw_key_on_page(page, kind: str) -> str:
    """The raw key a "Copy your new … key now" card shows, checked against the key format."""
    card = page.locator("#new-key").filter(has=page.locator(f"#raw-key-{kind}"))
    expect(card.locator("h2")).to_have_text(f"Copy your new {kind} key now")
    raw = page.locator(f"#raw-key-{kind}").inner_text().strip()
    assert RAW_KEY.fullmatch(raw), f"{kind} key {raw!r} does not look like a Beacon key"
    assert raw.startswith(f"bcn_{kind[0]}_")
    return raw


def snippet_cards(page):
    return page.locator(".snippets section[id^=snippet-card-]")


def key_row(page, raw_key: str):
    return page.locator(f'#key-table tr[data-key-prefix="{raw_key[:PREFIX_LENGTH]}"]')


def api_get(page, live_server, path: str, raw_key: str):
    return page.request.get(f"{live_server.url}{path}", headers={"X-API-Key": raw_key})


def project_slug_from(page, live_server) -> str:
    match = re.fullmatch(rf"{re.escape(live_server.url)}/projects/([\w-]+)/", page.url)
    assert match, f"not on a project overview: {page.url}"
    return match.group(1)


def test_it_signs_up_creates_a_project_and_a_staging_key_with_its_snippets(page, live_server):
    email = f"signup-{uuid.uuid4().hex[:12]}@example.com"
    sign_up(page, email=email, organization="Acme Rockets")

    # The first project's overview, with its raw keys shown this once and the SDK snippets.
    expect(page).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/projects/[\w-]+/$"))
    first_slug = project_slug_from(page, live_server)
    expect(page.locator("nav.topnav")).to_contain_text(email)
    expect(page.locator("h1")).to_contain_text("My first project")
    expect(page.locator("h1")).to_contain_text("Acme Rockets")
    expect(page.locator("#new-key")).to_have_count(2)
    write_key = raw_key_on_page(page, "write")
    secret_key = raw_key_on_page(page, "secret")
    assert write_key != secret_key
    expect(page.locator("#new-key").filter(has_text="secret key")).to_contain_text("Keep it on servers only.")
    browser_card = page.locator("#snippet-card-browser")
    expect(browser_card).to_contain_text(f'beacon.init("{write_key}"')
    expect(browser_card).to_contain_text(f'host: "{live_server.url}"')
    expect(browser_card).to_contain_text('environment: "production"')
    expect(page.locator("#snippet-card-curl")).to_contain_text(f"X-API-Key: {write_key}")
    cards = snippet_cards(page)
    assert cards.count() >= 2
    for index in range(cards.count()):
        expect(cards.nth(index)).to_contain_text(write_key)
    expect(page.locator(".snippets")).not_to_contain_text(secret_key)
    expect(page.locator(".snippets")).not_to_contain_text("bcn_s_")

    # Shown once: a reload has neither the raw keys nor the snippets.
    page.reload()
    expect(page.locator("h1")).to_contain_text("My first project")
    expect(page.locator("#new-key")).to_have_count(0)
    expect(snippet_cards(page)).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(write_key)
    expect(page.locator("body")).not_to_contain_text(secret_key)

    # A second project, from the "New project" button of the projects list.
    page.goto("/")
    page.get_by_role("link", name="New project").click()
    expect(page).to_have_url(f"{live_server.url}/projects/new/")
    page.fill("input[name=name]", "Second Site")
    page.get_by_role("button", name="Create project").click()

    expect(page.locator("h1")).to_contain_text("Second Site")
    second_slug = project_slug_from(page, live_server)
    assert second_slug != first_slug
    second_write_key = raw_key_on_page(page, "write")
    second_secret_key = raw_key_on_page(page, "secret")
    assert {second_write_key, second_secret_key}.isdisjoint({write_key, secret_key})
    expect(page.locator("#snippet-card-browser")).to_contain_text(second_write_key)
    expect(page.locator(".snippets")).not_to_contain_text(second_secret_key)

    # A write key for staging, from the project's "API keys" tab.
    page.locator("nav.tabs").get_by_role("link", name="API keys").click()
    expect(page).to_have_url(f"{live_server.url}/projects/{second_slug}/keys/")
    expect(page.locator("#key-table tbody tr")).to_have_count(2)  # the default production keys
    page.select_option("select[name=environment]", label=f"{second_slug}/staging")
    page.select_option("select[name=kind]", value="write")
    page.fill("input[name=name]", "Staging web app")
    page.get_by_role("button", name="Create key").click()

    expect(page.locator("#new-key")).to_have_count(1)
    staging_key = raw_key_on_page(page, "write")
    assert staging_key not in {write_key, secret_key, second_write_key, second_secret_key}
    expect(page.locator("#new-key")).to_contain_text("can only send events to staging")
    browser_card = page.locator("#snippet-card-browser")
    expect(browser_card).to_contain_text(f'beacon.init("{staging_key}"')
    expect(browser_card).to_contain_text('environment: "staging"')
    expect(browser_card).to_contain_text("Uses the public write key of staging")
    expect(page.locator("#snippet-card-curl")).to_contain_text('"environment": "staging"')
    expect(page.locator("#snippet-card-altertable-python")).to_contain_text('environment="staging"')
    expect(page.locator(".snippets")).not_to_contain_text("production")

    row = key_row(page, staging_key)
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text(f"{staging_key[:PREFIX_LENGTH]}…")
    expect(row.locator("td").nth(1)).to_have_text("write")
    expect(row.locator("td").nth(2)).to_have_text("staging")
    expect(row.locator("td").nth(3)).to_have_text("Staging web app")
    expect(row.locator("td").nth(4)).to_have_text(email)
    expect(row.locator(".status")).to_have_text("active")
    expect(page.locator("#key-table")).not_to_contain_text(staging_key)  # the table shows prefixes only

    # The raw key works against the real API: it is a staging write key, which cannot read.
    info = api_get(page, live_server, "/api/v1/key", staging_key)
    assert info.status == 200, info.text()
    assert info.json() == {
        "project": second_slug,
        "environment": "staging",
        "kind": "write",
        "can_read": False,
        "expires_at": None,
    }
    counts = api_get(page, live_server, "/api/v1/event-counts", staging_key)
    assert counts.status == 403, counts.text()
    assert counts.json()["code"] == "permission_denied"
    assert "write key can only send events" in counts.json()["message"]

    # Shown once here too: the keys page, opened again, has only the prefix. (Not page.reload(): the
    # page is the answer to a POST, which a reload would send again, creating one more key.)
    page.goto(f"/projects/{second_slug}/keys/")
    expect(page.locator("#new-key")).to_have_count(0)
    expect(key_row(page, staging_key)).to_have_count(1)
    expect(page.locator("body")).not_to_contain_text(staging_key)


def test_it_revokes_a_key_in_place_and_the_api_refuses_it_at_once(page, live_server, log_in, owner):
    project = make_project(owner=owner)
    staging = project.environments.get(slug="staging")
    doomed, doomed_raw = do_create_api_key(
        environment=staging, kind=ApiKeyKind.WRITE, name="Old web app", acting_user=owner
    )
    _, kept_raw = do_create_api_key(
        environment=staging, kind=ApiKeyKind.WRITE, name="New web app", acting_user=owner
    )
    # Both work, and the lookups are cached now: the revoke must overwrite the cached answer.
    assert api_get(page, live_server, "/api/v1/key", doomed_raw).status == 200
    assert api_get(page, live_server, "/api/v1/key", kept_raw).status == 200

    log_in(owner)
    page.goto(f"/projects/{project.slug}/keys/")
    wait_for_htmx(page)
    doomed_row = key_row(page, doomed_raw)
    kept_row = key_row(page, kept_raw)
    expect(doomed_row.locator(".status")).to_have_text("active")
    expect(kept_row.locator(".status")).to_have_text("active")
    expect(doomed_row.get_by_role("button", name="Revoke")).to_be_visible()

    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.evaluate("() => { window.__marker = 1 }")
    with page.expect_response(lambda response: response.url.endswith(f"/keys/{doomed.id}/revoke/")) as revoke:
        doomed_row.get_by_role("button", name="Revoke").click()

    assert revoke.value.status == 200
    assert revoke.value.request.headers.get("hx-request") == "true"
    expect(doomed_row.locator(".status")).to_have_text("revoked")
    expect(doomed_row.get_by_role("button", name="Revoke")).to_have_count(0)
    expect(doomed_row.get_by_role("button", name="Rotate")).to_have_count(0)
    expect(kept_row.locator(".status")).to_have_text("active")
    expect(kept_row.get_by_role("button", name="Revoke")).to_have_count(1)
    assert dialogs == [f"Revoke {doomed_raw[:PREFIX_LENGTH]}…? Requests with it are refused at once."]
    assert page.evaluate("() => window.__marker") == 1, "the page was reloaded instead of swapped"
    expect(page.locator("#key-table")).to_have_count(1)  # swapped in place, not nested

    refused = api_get(page, live_server, "/api/v1/key", doomed_raw)
    assert refused.status == 401, refused.text()
    assert refused.json() == {
        "code": "authentication_failed",
        "message": "Unknown, revoked or expired API key.",
    }
    assert api_get(page, live_server, "/api/v1/key", kept_raw).status == 200

    # The revoke is stored, not only drawn: a fresh load says so too.
    page.reload()
    expect(key_row(page, doomed_raw).locator(".status")).to_have_text("revoked")


def test_it_invites_a_viewer_who_signs_up_joins_and_cannot_manage_keys(
    page, live_server, log_in, owner, browser, browser_context_args, settings
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox = []
    project = make_project(owner=owner)
    organization = project.organization
    _, raw = do_create_api_key(
        environment=project.environments.get(slug="production"),
        kind=ApiKeyKind.WRITE,
        name="Website",
        acting_user=owner,
    )

    # The owner sees the key with its Revoke button and invites a viewer.
    log_in(owner)
    page.goto(f"/projects/{project.slug}/keys/")
    expect(key_row(page, raw).get_by_role("button", name="Revoke")).to_have_count(1)
    expect(page.get_by_role("button", name="Create key")).to_have_count(1)
    page.goto(f"/orgs/{organization.slug}/members/")
    invite_form = page.locator(f"form[action='/orgs/{organization.slug}/members/']")
    invite_form.locator("input[name=email]").fill("friend@example.com")
    invite_form.locator("select[name=role]").select_option("viewer")
    invite_form.get_by_role("button", name="Send invitation").click()

    expect(page).to_have_url(f"{live_server.url}/orgs/{organization.slug}/members/")
    expect(page.locator(".messages")).to_contain_text("Invitation sent to friend@example.com.")
    pending = page.locator("table tr").filter(has_text="friend@example.com")
    expect(pending.locator("td").nth(1)).to_have_text("viewer")

    assert len(mail.outbox) == 1, [message.subject for message in mail.outbox]
    message = mail.outbox[0]
    assert message.to == ["friend@example.com"]
    assert message.subject == f"You are invited to {organization.name} on Beacon"
    assert f"{owner.email} invited you to join {organization.name} as viewer." in message.body
    links = INVITATION_LINK.findall(message.body)
    assert len(links) == 1, message.body
    link = links[0]
    assert link.startswith(f"{live_server.url}/invitations/")

    # The friend, in a browser of their own: not logged in, so sent to the login page.
    friend_context = browser.new_context(**browser_context_args)
    try:
        friend = friend_context.new_page()
        friend.goto(link)
        invitation_path = link.removeprefix(live_server.url)
        expect(friend).to_have_url(re.compile(rf"^{re.escape(live_server.url)}/accounts/login/\?next="))
        assert friend.url.endswith(f"next={invitation_path}") or friend.url.endswith(
            "next=" + invitation_path.replace("/", "%2F")
        ), friend.url
        expect(friend.locator(".messages")).to_contain_text(
            f"Log in or sign up as friend@example.com to join {organization.name}."
        )
        expect(friend.locator("nav.topnav")).not_to_contain_text("friend@example.com")

        # No account yet: sign up instead, then open the link again and accept.
        sign_up(friend, email="friend@example.com", organization="Friendly Co")
        expect(friend.locator("nav.topnav")).to_contain_text("friend@example.com")
        friend.goto(link)
        expect(friend.locator("h1")).to_have_text(f"Join {organization.name}")
        expect(friend.locator("main")).to_contain_text("You were invited as Viewer.")
        friend.get_by_role("button", name="Accept and join").click()

        expect(friend).to_have_url(f"{live_server.url}/")
        expect(friend.locator(".messages")).to_contain_text(f"You joined {organization.name}.")
        joined = friend.locator("table.table tbody tr").filter(has_text=organization.name)
        expect(joined).to_have_count(1)
        expect(joined.locator("td").nth(0)).to_have_text(project.name)
        expect(
            friend.locator("ul.plain li").filter(has_text=organization.name).locator(".pill")
        ).to_have_text("viewer")

        # The invitation is used up.
        friend.goto(link)
        expect(friend.locator("main")).to_contain_text(
            "This invitation has expired, was revoked, or was already used."
        )
        expect(friend.get_by_role("button", name="Accept and join")).to_have_count(0)

        # As a viewer: the keys are listed, but there is nothing to create, rotate or revoke them with.
        friend.goto(f"/projects/{project.slug}/keys/")
        expect(friend.locator("h1")).to_have_text(project.name)
        expect(key_row(friend, raw)).to_have_count(1)
        expect(key_row(friend, raw).locator(".status")).to_have_text("active")
        expect(friend.get_by_role("button", name="Create key")).to_have_count(0)
        expect(friend.get_by_role("heading", name="Create a key")).to_have_count(0)
        expect(friend.locator("select[name=kind]")).to_have_count(0)
        expect(friend.get_by_role("button", name="Revoke")).to_have_count(0)
        expect(friend.get_by_role("button", name="Rotate")).to_have_count(0)
        expect(friend.locator("form[action*='/revoke/'], form[action*='/rotate/']")).to_have_count(0)
    finally:
        friend_context.close()


def test_it_locks_an_account_out_after_five_failed_logins(page, live_server, settings):
    settings.LOGIN_MAX_FAILURES = 5  # the default, pinned: BEACON_LOGIN_MAX_FAILURES cannot change it
    user = make_user(f"lockout-{uuid.uuid4().hex[:12]}")
    # TRICKY: failures are also counted per client IP (20 allowed) in the shared Redis, for 15
    # minutes. Every browser test comes from 127.0.0.1, so five failures per run from there would
    # lock every login form test out after a few runs. Behind "our proxy" the IP comes from
    # X-Forwarded-For: give this run an address of its own (2001:db8::/32 is for documentation).
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    own_ip = str(ipaddress.IPv6Address((0x20010DB8 << 96) | uuid.uuid4().int >> 32))
    page.set_extra_http_headers({"X-Forwarded-For": own_ip})

    def attempt(password: str) -> None:
        page.goto("/accounts/login/")
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", password)
        page.get_by_role("button", name="Log in").click()

    for number in range(1, 6):
        attempt(f"wrong-password-{number}")
        expect(page).to_have_url(f"{live_server.url}/accounts/login/")
        error = page.locator(".error")
        expect(error).to_contain_text("Your email and password didn't match.")
        expect(error).not_to_contain_text("Too many failed logins")

    attempt(FIXTURE_PASSWORD)

    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    minutes = max(1, settings.LOGIN_LOCKOUT_SECONDS // 60)
    expect(page.locator(".error")).to_contain_text(
        f"Too many failed logins. Try again in {minutes} minutes, or reset your password."
    )
    expect(page.locator("nav.topnav")).not_to_contain_text(user.email)
    expect(page.locator("input[name=password]")).to_be_visible()
