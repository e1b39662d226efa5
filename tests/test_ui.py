"""The web UI in a real browser: Debian's Chromium, headless, driven by Selenium.

The app runs in-process on a free localhost port over a temporary data folder holding the
bundled demo data. The LLM comes from the user's model cache (~/.cache/kith), as in normal use.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]
PAGE_TIMEOUT = 60
REPLY_TIMEOUT = 120

BOT_TEXTS = "return Array.from(document.querySelectorAll('#kith-chat [data-testid=\"bot\"]')).map(e => e.innerText);"


def _require_browser() -> None:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    if missing:
        pytest.skip(f"browser test needs Debian's Chromium and ChromeDriver; missing: {', '.join(missing)} "
                    "(apt-get install chromium chromium-driver)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _require_browser()
    from bot.kith import Kith
    from bot.ui import build_app, launch_options

    kith = Kith.open(tmp_path_factory.mktemp("ui") / "data", "demo")
    app = build_app(kith)
    port = _free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()
        kith.close()


@pytest.fixture
def browser(tmp_path: Path):  # type: ignore[no-untyped-def]
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(browser, url: str):  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    wait = WebDriverWait(browser, PAGE_TIMEOUT)
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#kith-input textarea")))
    wait.until(ec.element_to_be_clickable((By.ID, "kith-send")))
    # The user picker is filled in and the profile shown once the page's load event has run.
    wait.until(lambda d: d.find_element(By.ID, "kith-profile").text.strip())
    return wait


def _send(browser, text: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    box = browser.find_element(By.CSS_SELECTOR, "#kith-input textarea")
    box.clear()
    if text:
        box.send_keys(text)
    browser.find_element(By.ID, "kith-send").click()


def test_chat_shows_reply_cards_and_profile(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, app_url)
    _send(browser, "I loved Arrival — a thoughtful sci-fi film please, nothing scary")

    def answered(driver):  # type: ignore[no-untyped-def]
        replies = driver.execute_script(BOT_TEXTS)
        cards = driver.find_elements(By.CSS_SELECTOR, "#kith-recommendations .kith-card")
        return bool(replies) and "Try" in replies[-1] and bool(cards) and cards

    cards = WebDriverWait(browser, REPLY_TIMEOUT, poll_frequency=0.5).until(answered)
    assert all(card.text.strip() for card in cards)
    assert "score" in cards[0].text
    WebDriverWait(browser, 10).until(lambda d: "avoid: scary" in d.find_element(By.ID, "kith-profile").text)
    # The streamed text is replaced by the finished turn's text; the input is cleared.
    assert browser.find_element(By.CSS_SELECTOR, "#kith-input textarea").get_attribute("value") == ""

    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "ui-chat.png"))


def test_empty_message_shows_an_error_and_the_app_keeps_working(  # type: ignore[no-untyped-def]
    app_url: str, browser
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, app_url)
    _send(browser, "")
    WebDriverWait(browser, 30).until(lambda d: "message is empty" in d.find_element(By.ID, "kith-status").text)
    assert browser.execute_script(BOT_TEXTS) == []

    _send(browser, "Something cozy to read on a rainy weekend")

    def answered(driver):  # type: ignore[no-untyped-def]
        replies = driver.execute_script(BOT_TEXTS)
        if len(replies) != 1 or not replies[0].strip() or driver.find_element(By.ID, "kith-status").text.strip():
            return False
        # The finished turn fills the recommendations.
        return bool(driver.find_elements(By.CSS_SELECTOR, "#kith-recommendations .kith-card"))

    WebDriverWait(browser, REPLY_TIMEOUT, poll_frequency=0.5).until(answered)
