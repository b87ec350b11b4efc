"""The page tests' ``world``: tests/consent/gate_world.py's two talents, brands and
licences (page-test helpers that are plain functions are in tests/web/helpers.py).

Browser tests: Playwright for Python driving Debian's chromium against pytest-django's
live server. ``@pytest.mark.browser`` tests are skipped, with the reason in the summary,
when /usr/bin/chromium is missing (``apt-get install chromium``; .ci/run installs it).

Each browser test saves its screenshots with ``screenshot(page, name)`` into its folder of
the run's output: pytest's ``tmp_path``, under the run's base folder (``--basetemp DIR``
puts it where CI collects it). One that saves none fails; one that fails also leaves a
screenshot of every page it had open."""

import os
from pathlib import Path

import pytest

from tests.consent.gate_world import GateWorld, build_gate_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = pytest.StashKey[list]()
CALL_REPORT = pytest.StashKey[pytest.TestReport]()
SKIP_REASON = (
    f"browser tests need Debian's chromium at {CHROMIUM} "
    "(apt-get install -y chromium; .ci/run does it)"
)


@pytest.fixture
def world(django_capture_on_commit_callbacks) -> GateWorld:
    return build_gate_world()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"browser: drives chromium through Playwright; skipped without {CHROMIUM}"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if Path(CHROMIUM).exists():
        return
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report


def _failed(item: pytest.Item) -> bool:
    report = item.stash.get(CALL_REPORT, None)
    return report is None or report.failed


@pytest.fixture
def screenshot(request, tmp_path):
    """``screenshot(page, name)``: the whole page as ``<tmp_path>/<name>.png``."""
    saved = request.node.stash.setdefault(SCREENSHOTS, [])

    def take(page, name: str):
        path = tmp_path / f"{name}.png"
        page.screenshot(path=path, full_page=True)
        saved.append(path)
        return path

    return take


@pytest.fixture(autouse=True)
def _browser_tests_leave_screenshots(request):
    yield
    if request.node.get_closest_marker("browser") is None or _failed(request.node):
        return
    saved = request.node.stash.get(SCREENSHOTS, [])
    assert saved and all(path.stat().st_size > 0 for path in saved), (
        "a browser test saves at least one screenshot with the screenshot fixture"
    )
    request.node.user_properties.append(("screenshots", " ".join(map(str, saved))))


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, and Django refuses database
    # calls from a thread with a running loop; the test thread only sets up and asserts.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def open_as(request, browser, live_server, tmp_path):
    """``open_as(user)`` is a logged-in page (``open_as(None)``: anonymous), phone-sized,
    each in its own browser context so that sessions do not mix (``locale``: the
    browser's language). If the test fails, each
    page it opened is saved as ``failure-<n>.png``, to see what the browser saw."""
    from tests.factories import PASSWORD

    contexts = []

    def open_page(user, locale: str = "en-GB"):
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, accept_downloads=True, locale=locale
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            page.goto(f"{live_server.url}/login/")
            page.get_by_label("E-mail").fill(user.email)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_page
    if _failed(request.node):
        pages = [page for context in contexts for page in context.pages]
        for number, page in enumerate(pages, start=1):
            page.screenshot(path=tmp_path / f"failure-{number}.png", full_page=True)
    for context in contexts:
        context.close()
