"""The chat page in a real browser: Debian's headless Chromium, driven by Playwright."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.integration

OUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    assert Path(CHROMIUM).exists(), "Chromium is missing: `make test` installs Debian's chromium"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_ask_stream_click_citation(server, browser):
    OUT.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelector('#status').textContent.includes('document')")
    page.fill("#question", "What did Peskov say?")
    page.keyboard.press("Enter")
    cite = page.locator("#log li.assistant button.cite").first
    cite.wait_for(timeout=120_000)
    answer = page.locator("#log li.assistant .text").first.inner_text()
    assert "Peskov" in answer
    assert page.locator("#source").is_hidden()
    cite.click()
    assert page.locator("#source").is_visible()
    assert cite.get_attribute("aria-pressed") == "true"
    mark = page.locator("#source-text mark").inner_text()
    passage = page.locator("#source-text").inner_text()
    assert any(w in mark for w in ["wariness", "cannot leave Armenia", "integral part"]), mark
    assert len(passage) > len(mark)  # highlighted inside its surrounding text
    assert page.locator("#source-title").inner_text().startswith("[")
    page.screenshot(path=str(OUT / "web-chat.png"), full_page=True)

    # A follow-up about someone the article never names: a clear abstention, no citation.
    page.fill("#question", "And what did Angela Merkel say about it?")
    page.keyboard.press("Enter")
    abstained = page.locator("#log li.abstained")
    abstained.wait_for(timeout=120_000)
    assert "not in the documents" in abstained.inner_text().lower()
    assert abstained.locator("button.cite").count() == 0
    assert page.locator("#log li.user").count() == 2
    # Not a dead end: the passages it read open in the panel, nothing marked as support.
    looked = abstained.locator("button.passage")
    assert looked.count() >= 1
    assert cite.get_attribute("aria-pressed") == "true"  # the cited passage is still open
    looked.first.click()
    assert page.locator("#source").is_visible()
    assert looked.first.get_attribute("aria-pressed") == "true"
    assert page.locator("button.cite[aria-pressed=true]").count() == 0  # one pressed at a time
    assert page.locator("#source-title").inner_text().startswith("[1] ")
    assert page.locator("#source-text mark").count() == 0
    assert len(page.locator("#source-text").inner_text()) > 20
    assert page.locator("#source-meta").inner_text().endswith("read, not cited")
    page.locator("#source-close").click()
    assert looked.first.get_attribute("aria-pressed") == "false"
    page.screenshot(path=str(OUT / "web-chat-abstained.png"), full_page=True)

    # Phone width: the layout reflows and the passage opens as a bottom sheet.
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#log li.assistant button.cite").first.click()
    box = page.locator("#source").bounding_box()
    assert box and box["width"] <= 390 and box["y"] > 200
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, scroll_width  # no sideways scrolling
    page.screenshot(path=str(OUT / "web-chat-phone.png"))
    page.close()
