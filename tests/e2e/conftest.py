"""Browser tests: pytest-playwright drives Debian's Chromium against pytest-django's live_server.

Run them with their own test database so they do not collide with another run:

    DATABASE_TEST_NAME=test_beacon_e2e .venv/bin/python -m pytest tests/e2e

Chromium is never downloaded (`playwright install` needs a network we do not have): the tests launch
the system one, ``/usr/bin/chromium`` or else ``chromium`` on PATH. ``BEACON_CHROMIUM=/path`` overrides
that (exactly that path, no fallback). Without a Chromium the tests are skipped, loudly; with
``CI=true`` they fail instead, so CI cannot go green without running them.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

# TRICKY: Playwright's sync API keeps an asyncio event loop running in the main thread, so Django
# believes the test body is async code and refuses ORM calls ("SynchronousOnlyOperation"). This is
# the documented workaround. It is read on every ORM call, so it must stay set for the whole run:
# fixtures' teardown (flush, dropping the test database) also runs while Playwright is alive.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

E2E_DIR = Path(__file__).resolve().parent
DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Headless Chromium as root on a closed network: without the background-networking flags it stalls
# on requests that never answer (component updates, sync, QUIC probes).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING_CHROMIUM_SKIP = (
    "Chromium not installed: browser tests SKIPPED; install with apt-get install -y chromium"
)
MISSING_CHROMIUM_FAIL = (
    "Chromium not installed and CI=true: browser tests cannot run. "
    ".ci/run must `apt-get install -y chromium` before running pytest."
)


def find_chromium() -> str | None:
    """The Chromium to launch: BEACON_CHROMIUM if set, else /usr/bin/chromium, else PATH."""
    override = os.environ.get("BEACON_CHROMIUM")
    if override:
        return override if os.access(override, os.X_OK) else None
    if os.access(DEFAULT_CHROMIUM, os.X_OK):
        return DEFAULT_CHROMIUM
    return shutil.which("chromium")


def chromium_launch_options(executable_path: str) -> dict:
    """Keyword arguments for ``playwright.chromium.launch`` (bench/screenshots.py uses them too)."""
    return {"executable_path": executable_path, "headless": True, "args": list(CHROMIUM_ARGS)}


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


CHROMIUM = find_chromium()
_tests_without_chromium: list[str] = []


def _is_e2e(item) -> bool:
    return E2E_DIR in Path(item.path).resolve().parents


def pytest_configure(config):
    # Registered here, not in pyproject.toml: the marker belongs to this directory (--strict-markers).
    config.addinivalue_line("markers", "e2e: real-browser test (Playwright + Chromium + live_server)")


def pytest_report_header(config):
    # Shown only when this conftest is loaded at startup (`pytest tests/e2e`); the terminal summary
    # below is shown in every run.
    if CHROMIUM:
        return f"e2e browser: {CHROMIUM}"
    return f"WARNING: {MISSING_CHROMIUM_FAIL if _on_ci() else MISSING_CHROMIUM_SKIP}"


def pytest_collection_modifyitems(config, items):
    # A session-wide hook even in this conftest: mark only the items under tests/e2e.
    for item in items:
        if _is_e2e(item):
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture (the browser is session-scoped): skip, or on CI fail, without Chromium."""
    if CHROMIUM:
        return
    _tests_without_chromium.append(item.nodeid)
    if _on_ci():
        pytest.fail(MISSING_CHROMIUM_FAIL, pytrace=False)
    pytest.skip(MISSING_CHROMIUM_SKIP)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _tests_without_chromium:
        return
    outcome = "FAILED" if _on_ci() else "SKIPPED"
    terminalreporter.write_sep(
        "!",
        f"{len(_tests_without_chromium)} browser tests {outcome}: Chromium not installed "
        "(apt-get install -y chromium, or set BEACON_CHROMIUM)",
        red=True,
        bold=True,
    )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    options = {**browser_type_launch_args, **chromium_launch_options(CHROMIUM)}
    if browser_type_launch_args.get("headless") is False:  # `pytest --headed` still works
        options["headless"] = False
    return options


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args, live_server):
    """Every page talks to the live server: `page.goto("/")` is enough."""
    return {**browser_context_args, "base_url": live_server.url, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session", autouse=True)
def _event_store_resolved(django_db_setup, django_db_blocker):
    """Resolve the event store once, before any transactional test flushes its StorageState row.

    TRICKY: get_store() reads StorageState on first use and caches the answer per process; after a
    transactional test's flush the row is gone, so a first use after that would fail.
    """
    from analytics.storage import get_store

    with django_db_blocker.unblock():
        return get_store()


@pytest.fixture
def log_in(context, live_server):
    """Log a user in without the login form: a real session, its cookie handed to the browser."""

    def log_in_as(user) -> None:
        client = Client()
        client.force_login(user)
        session_cookie = client.cookies[settings.SESSION_COOKIE_NAME]
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie.value, "url": live_server.url}]
        )

    return log_in_as
