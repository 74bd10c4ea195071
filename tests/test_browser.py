"""The Gradio demo in a real headless browser (Debian chromium + chromedriver, driven by selenium).

Skips, never fails, when the browser or its driver is missing: `make browser` installs them where it can."""
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CARD_IDS = "return [...document.querySelectorAll('#tw-items .tw-card')].map(e => e.dataset.itemId)"


def _find(*names):
    return next((p for p in map(shutil.which, names) if p), None)


@pytest.fixture(scope="module")
def browser():
    pytest.importorskip("selenium", reason="selenium is not installed (it is in the dev extra: pip install -e '.[dev]')")
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    chrome = _find("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
    driver = _find("chromedriver")
    if not (chrome and driver):
        pytest.skip(f"no headless browser here (chromium: {chrome or 'missing'}, chromedriver: {driver or 'missing'}); "
                    "`make browser` installs them (Debian: apt-get install chromium chromium-driver)")
    opts = Options()
    opts.binary_location = chrome
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1500,1000",
              "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    try:
        d = webdriver.Chrome(service=Service(driver), options=opts)  # an explicit driver path: selenium-manager downloads nothing
    except WebDriverException as e:
        pytest.skip(f"chromium could not start here: {str(e.msg or e).splitlines()[0]}")
    d.set_page_load_timeout(60)
    yield d
    d.quit()


def _send(d, wait, text):
    from selenium.webdriver.common.by import By
    box = d.find_element(By.CSS_SELECTOR, "#tw-request textarea")
    box.clear()
    box.send_keys(text)
    d.find_element(By.ID, "tw-send").click()
    wait.until(lambda d: text in d.find_element(By.ID, "tw-chat").text)


def test_demo_ui_two_turns(browser, engine):  # browser first: without one, skip before loading the model
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    from talkwalk.serve import make_app, running
    catalogue = set(engine.dataset.items.index)
    app = make_app(engine, batch_wait_ms=10)  # as `talkwalk serve` runs it: the demo's turns go through the server's batcher
    with running(app) as url:
        d, wait = browser, WebDriverWait(browser, 90)
        d.get(f"{url}/ui/")
        wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "#tw-request textarea")))
        age = d.find_elements(By.CSS_SELECTOR, "#tw-user-age input")
        if age: age[0].send_keys("30")
        _send(d, wait, "a funny film for the weekend")
        wait.until(lambda d: d.execute_script(CARD_IDS))
        first = d.execute_script(CARD_IDS)
        assert first and set(first) <= catalogue and len(set(first)) == len(first)
        _send(d, wait, "now something darker")
        wait.until(lambda d: (ids := d.execute_script(CARD_IDS)) and ids != first)
        second = d.execute_script(CARD_IDS)
        assert set(second) <= catalogue and not set(first) & set(second)  # new items, none repeated
        status = d.find_element(By.ID, "tw-status").text
        assert "turn 2" in status and (not age or "30" in status)
        titles = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#tw-items .tw-title")]
        assert len(titles) == len(second) and all(titles)
        shots = [ROOT / "build" / "screenshots" / "demo_ui.png"]
        if os.environ.get("TALKWALK_WRITE_REPORTS") == "1":
            shots.append(ROOT / "reports" / "demo_ui.png")
        for p in shots:
            p.parent.mkdir(parents=True, exist_ok=True)
            assert d.save_screenshot(str(p)) and p.stat().st_size > 10_000
        d.get("about:blank")  # close the page's event stream before the server stops
    assert app.state.batcher.stats["turns"] == 2, app.state.batcher.stats
