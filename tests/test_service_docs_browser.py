"""The API docs of `rota serve` (Swagger UI at /docs, ReDoc at /redoc) render in a real browser
without internet: headless Debian chromium, driven by Playwright, sees the operations and
asks no host but the service.

In CI (`CI` set) a missing chromium or Playwright fails the test; elsewhere it is skipped,
saying how to install them (`apt-get install chromium`; Playwright is in the `test` extra)."""

import os
import shutil
from urllib.parse import urlsplit

import pytest
from test_spec_5_2_service import Server

CHROMIUM = "/usr/bin/chromium"
# Operations as each page shows them, one per area of the API.
OPERATIONS = ("POST /v1/contacts/{contact_id}/route", "PUT /v1/policy", "GET /v1/decisions", "GET /v1/status")


def _browser_or_reason():
    """Playwright's sync API, or why the test cannot run here."""
    if not shutil.which(CHROMIUM):
        return None, f"no chromium at {CHROMIUM}: apt-get install -y chromium"
    try:
        from playwright import sync_api
    except ImportError:
        return None, "Playwright is not installed: pip install -e '.[test]'"
    return sync_api, None


@pytest.fixture(scope="module")
def browser():
    sync_api, reason = _browser_or_reason()
    if sync_api is None:
        if os.environ.get("CI"):
            pytest.fail(f"the docs browser test cannot run in CI: {reason}")
        pytest.skip(f"{reason} (in CI, with CI set, this fails)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    running = Server(tmp_path_factory.mktemp("docs")).start()
    yield running
    running.stop()


def _rendered(browser, url: str) -> tuple[list[str], list[str]]:
    """The operations the page shows ("POST /v1/..."), and the requests it sent to another host.

    A request the browser itself refused (the page's Content-Security-Policy) never left it, so
    it is not counted: ReDoc's bundle asks a CDN for its maker's logo, and the policy stops it."""
    page = browser.new_page()
    asked: list[str] = []
    refused: set[str] = set()
    page.on("request", lambda request: asked.append(request.url))
    page.on("requestfailed", lambda request: request.failure == "csp" and refused.add(request.url))
    try:
        page.goto(url)
        page.locator(OPERATION_ELEMENT[urlsplit(url).path]).nth(len(OPERATIONS) - 1).wait_for(timeout=20_000)
        shown = page.evaluate(SHOWN_OPERATIONS[urlsplit(url).path])
    finally:
        page.close()
    here = urlsplit(url).netloc
    elsewhere = [address for address in asked if _host(address) != here and address not in refused]
    return shown, elsewhere


def _host(address: str) -> str:
    """The host a request goes to; a blob: URL is the page's own memory, at the page's host."""
    parts = urlsplit(address)
    return urlsplit(parts.path).netloc if parts.scheme == "blob" else parts.netloc


# Each operation is one element, its method and its path in two children.
OPERATION_ELEMENT = {"/docs": ".opblock", "/redoc": "button:has(> .http-verb)"}
SHOWN_OPERATIONS = {
    "/docs": """[...document.querySelectorAll('.opblock')].map(operation =>
        operation.querySelector('.opblock-summary-method').innerText + ' ' +
        operation.querySelector('.opblock-summary-path').dataset.path)""",
    "/redoc": """[...document.querySelectorAll('button:has(> .http-verb)')].map(operation =>
        operation.querySelector('.http-verb').innerText.toUpperCase() + ' ' +
        operation.querySelector('.http-verb + span').innerText)""",
}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_show_the_operations_and_ask_no_other_host(browser, service, page):
    shown, elsewhere = _rendered(browser, f"{service.url}{page}")
    assert set(OPERATIONS) <= set(shown), shown
    assert elsewhere == []
