"""The web UI in a real browser: Debian's Chromium, headless, driven by Selenium.

The app runs in-process on a free localhost port over a copy of a data folder holding the
bundled demo data. The LLM comes from the user's model cache (~/.cache/kith), as in normal use.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.sessions import TurnRecord

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
def app_url(tmp_path_factory: pytest.TempPathFactory, demo_template: Path) -> Iterator[str]:
    _require_browser()
    from bot.kith import Kith
    from bot.ui import build_app, launch_options
    from tests.conftest import copy_demo

    kith = Kith.open(copy_demo(demo_template, tmp_path_factory.mktemp("ui") / "data"), "demo")
    app = build_app(kith)
    port = _free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_options())
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.close()
        kith.close()


@pytest.fixture
def browsers(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Opens real browsers, each with a profile (and so a local storage) of its own."""
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opened = []

    def open_browser():  # type: ignore[no-untyped-def]
        options = Options()
        options.binary_location = str(CHROMIUM)
        for flag in CHROMIUM_FLAGS:
            options.add_argument(flag)
        profile = tmp_path / f"chromium-profile-{len(opened)}"
        profile.mkdir()
        options.add_argument(f"--user-data-dir={profile}")
        opened.append(webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options))
        return opened[-1]

    try:
        yield open_browser
    finally:
        for number, driver in enumerate(opened):
            driver.quit()
            shutil.rmtree(tmp_path / f"chromium-profile-{number}", ignore_errors=True)


@pytest.fixture
def browser(browsers):  # type: ignore[no-untyped-def]
    return browsers()


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


def _cards(driver) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """(item id, title, reasons) of every card shown."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#kith-recommendations .kith-card')).map(c => "
        "[c.dataset.itemId, c.querySelector('.kith-card-title').innerText, "
        "(c.querySelector('.kith-reasons') || {innerText: ''}).innerText]);")


def _click_feedback(browser, item_id: str, signal: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.find_element(
        By.CSS_SELECTOR, f'#kith-recommendations .kith-card[data-item-id="{item_id}"] button[data-signal="{signal}"]'
    ).click()


def test_card_feedback_changes_the_next_replys_cards(app_url: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, app_url)
    _send(browser, "a thoughtful sci-fi film")
    first = WebDriverWait(browser, REPLY_TIMEOUT, poll_frequency=0.5).until(_cards)
    (down, down_title, _), (up, up_title, _) = first[0], first[1]
    card_buttons = browser.find_elements(By.CSS_SELECTOR, "#kith-recommendations .kith-card button[data-signal]")
    assert {b.text for b in card_buttons} == {"More like this", "Not for me", "Already have it"}
    assert len(card_buttons) == 3 * len(first)

    _click_feedback(browser, down, "down")
    WebDriverWait(browser, 30).until(lambda d: f"dislikes: {down_title}" in _profile_text(d))
    assert "won't suggest it again" in browser.find_element(By.ID, "kith-status").text
    _click_feedback(browser, up, "up")
    WebDriverWait(browser, 30).until(lambda d: f"likes: {up_title}" in _profile_text(d))

    _send(browser, "another thoughtful sci-fi film")

    def next_cards(driver):  # type: ignore[no-untyped-def]
        shown = _cards(driver)
        return shown if shown and [c[0] for c in shown] != [c[0] for c in first] else False

    after = WebDriverWait(browser, REPLY_TIMEOUT, poll_frequency=0.5).until(next_cards)
    assert down not in [c[0] for c in after] and up not in [c[0] for c in after]
    assert any(f"more like {up_title}, which you liked" in reasons for _, _, reasons in after), after
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "ui-feedback.png"))


def _profile_text(browser) -> str:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    return browser.find_element(By.ID, "kith-profile").text


def test_each_browser_chats_as_its_own_guest(app_url: str, browsers) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    first = browsers()
    _open(first, app_url)
    _send(first, "I loved Arrival, more thoughtful films please")
    WebDriverWait(first, REPLY_TIMEOUT, poll_frequency=0.5).until(lambda d: "Arrival" in _profile_text(d))
    # Another browser is another guest: it starts with nothing of the first one's.
    second = browsers()
    _open(second, app_url)
    assert "Arrival" not in _profile_text(second) and "Nothing yet" in _profile_text(second)
    # A reload is the same browser, so the same guest and profile.
    _open(first, app_url)
    WebDriverWait(first, 10).until(lambda d: "Arrival" in _profile_text(d))


def test_a_login_chats_as_that_user_and_no_one_else(tmp_path: Path, demo_template: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from bot.kith import Kith
    from bot.ui import build_app, launch_options
    from tests.conftest import copy_demo

    kith = Kith.open(copy_demo(demo_template, tmp_path / "data"), "demo", ui={"logins": ["u03:pw-of-rhys"]})
    app = build_app(kith)
    port = _free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
               **launch_options(kith.config.ui))
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(browser, PAGE_TIMEOUT)
        fields = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "input") if len(
            d.find_elements(By.CSS_SELECTOR, "input")) >= 2 else False)
        fields[0].send_keys("u03")
        fields[1].send_keys("pw-of-rhys")
        browser.find_element(By.CSS_SELECTOR, "button").click()
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#kith-input textarea")))
        # No picker: a signed-in person chats as themselves only.
        assert not [e for e in browser.find_elements(By.ID, "kith-user") if e.is_displayed()]
        _send(browser, "I loved Arrival, something like it")
        WebDriverWait(browser, REPLY_TIMEOUT, poll_frequency=0.5).until(lambda d: "Arrival" in _profile_text(d))
        assert kith.profile("u03").likes and not kith.profile("guest").likes
    finally:
        app.close()
        kith.close()


def test_a_message_carries_the_browsers_local_time(tmp_path: Path, demo_template: Path, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import WebDriverWait

    from bot.kith import Kith
    from bot.ui import build_app, launch_options
    from tests.conftest import copy_demo

    kith = Kith.open(copy_demo(demo_template, tmp_path / "data"), "demo")
    app = build_app(kith)
    port = _free_port()
    app.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True, **launch_options())
    try:
        # A browser in India: UTC+05:30, an offset no test machine's clock has by accident.
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Asia/Kolkata"})
        _open(browser, f"http://127.0.0.1:{port}/")
        _send(browser, "some music please")
        WebDriverWait(browser, REPLY_TIMEOUT, poll_frequency=0.5).until(_cards)
        rows = kith.stores.database.query(
            "SELECT m.record FROM messages m JOIN sessions s ON s.id = m.session_id "
            "WHERE s.user_id LIKE 'guest-%' AND m.role = 'assistant'")
        contexts = [TurnRecord.model_validate_json(row["record"]).context for row in rows]
        assert len(contexts) == 1 and contexts[0] is not None
        sent = contexts[0].time
        assert sent.utcoffset() == timedelta(hours=5, minutes=30)
        assert abs(sent - datetime.now(UTC)) < timedelta(minutes=5)
    finally:
        app.close()
        kith.close()


def test_who_the_page_chats_as() -> None:
    """Without a login, only the browser's own guest id, of the form Kith issues; a catalog user
    only where impersonation is on."""
    from types import SimpleNamespace

    from bot.config import UIConfig
    from bot.kith import KithInputError
    from bot.ui import GUEST, Identity, new_guest

    guest = new_guest(None)
    # Another browser's guest is a catalog user once it gave feedback on a card: no one to pick.
    other_guest = new_guest(None)
    users = [SimpleNamespace(id="u01", name="Maya"), SimpleNamespace(id=other_guest, name=other_guest)]
    demo = SimpleNamespace(catalog="demo", users=lambda: users)
    shop = SimpleNamespace(catalog="shop", users=lambda: users)
    assert new_guest(guest) == guest and new_guest("u01") != "u01" and new_guest("u01").startswith("guest-")

    auto = Identity(UIConfig())
    assert auto.impersonating(demo) and not auto.impersonating(shop)  # type: ignore[arg-type]
    assert auto.user_id(demo, "u01", guest, None) == "u01"  # type: ignore[arg-type]
    assert auto.user_id(shop, "u01", guest, None) == guest  # type: ignore[arg-type]
    assert auto.user_id(demo, GUEST, guest, None) == guest  # type: ignore[arg-type]
    with pytest.raises(KithInputError):
        auto.user_id(shop, GUEST, "u01", None)  # type: ignore[arg-type]  # a forged guest id
    assert [value for _, value in auto.choices(shop)] == [GUEST]  # type: ignore[arg-type]
    assert [value for _, value in auto.choices(demo)] == [GUEST, "u01"]  # type: ignore[arg-type]
    assert auto.user_id(demo, other_guest, guest, None) == guest  # type: ignore[arg-type]

    assert not Identity(UIConfig(impersonate=False)).impersonating(demo)  # type: ignore[arg-type]
    assert Identity(UIConfig(impersonate=True)).impersonating(shop)  # type: ignore[arg-type]
    logins = Identity(UIConfig(logins=["u01:pw"]))
    assert not logins.impersonating(demo)  # type: ignore[arg-type]
    assert logins.user_id(demo, "u02", guest, SimpleNamespace(username="u01")) == "u01"  # type: ignore[arg-type]
    with pytest.raises(KithInputError):
        logins.user_id(demo, GUEST, guest, SimpleNamespace(username=None))  # type: ignore[arg-type]
