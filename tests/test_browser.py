"""The web page of `ragkit serve`, in a real browser: Debian's headless Chromium driven by
Selenium through chromedriver, with every address but the server's made unreachable. A
failing test leaves a screenshot and the page's HTML beside its message."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ragkit import Assistant, Config, TextEncoder
from ragkit.server import ServerSettings, create_app
from ragkit.testing import Messages, ScriptedGenerator

from .test_server import RECORDS, running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="the browser tests need Debian's chromium and chromium-driver: run "
    "`.ci/install-browser` (make test does), then run them again",
)

ANSWER = [
    "Adult ",
    "records ",
    "are ",
    "kept ",
    "for ",
    "10 ",
    "years ",
    "after ",
    "the ",
    "last ",
    "visit ",
    "[1].",
]


def slowly(_messages: Messages) -> Iterator[str]:
    """The answer a piece at a time, as a model writes it, slow enough to be seen arriving."""
    for piece in ANSWER:
        time.sleep(0.15)
        yield piece


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1280,900",
        # The network off for the page: no name resolves but the server's address, and
        # anything else would go through a proxy that does not exist.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=127.0.0.1",
    ):
        options.add_argument(flag)
    # Selenium Manager would look for a driver online; the system's is given.
    os.environ["SE_OFFLINE"] = "true"
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page_server(
    samples_copy: Path, config: Config, encoder: TextEncoder, tmp_path: Path
) -> Iterator[str]:
    generator = ScriptedGenerator(slowly)

    def open_assistant(cfg: Config) -> Assistant:
        return Assistant(samples_copy, cfg, encoder=encoder, generator=generator)

    settings = ServerSettings(db=samples_copy, config=config, uploads=tmp_path / "uploads")
    with running(create_app(settings, open_assistant=open_assistant)) as url:
        yield url


def _saved_on_failure(
    driver: object, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[[], str]:
    def save() -> str:
        folder = Path(os.environ.get("RAGKIT_SCREENSHOTS", tmp_path))
        folder.mkdir(parents=True, exist_ok=True)
        shot = folder / f"{request.node.name}.png"
        driver.save_screenshot(str(shot))  # type: ignore[attr-defined]
        (folder / f"{request.node.name}.html").write_text(driver.page_source)  # type: ignore[attr-defined]
        return str(shot)

    return save


def test_ask_see_the_answer_stream_open_a_citation_and_upload(
    browser: object, page_server: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    save = _saved_on_failure(driver, request, tmp_path)
    try:
        driver.get(page_server + "/")  # type: ignore[attr-defined]
        wait = WebDriverWait(driver, 60)
        wait.until(seen.text_to_be_present_in_element((By.ID, "documents"), "clinic-handbook.pdf"))
        assert driver.title == "ragkit"  # type: ignore[attr-defined]

        driver.find_element(By.ID, "question").send_keys(RECORDS)  # type: ignore[attr-defined]
        driver.find_element(By.ID, "send").click()  # type: ignore[attr-defined]
        # The words appear as they are written, before the checked answer replaces them.
        partial: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answers = driver.find_elements(By.CSS_SELECTOR, "#log li.answer")  # type: ignore[attr-defined]
            if answers and answers[-1].get_attribute("data-done") == "true":
                break
            if answers:
                partial.add(answers[-1].text)
            time.sleep(0.05)
        texts = {t for t in partial if t.startswith("Adult")}
        assert len(texts) >= 3, f"the answer did not stream in pieces: {sorted(partial)}"

        answer = driver.find_element(By.CSS_SELECTOR, "#log li.answer[data-done=true]")  # type: ignore[attr-defined]
        assert "10 years after the last visit" in answer.text
        assert not answer.find_elements(By.CSS_SELECTOR, ".unsupported")
        link = answer.find_element(By.CSS_SELECTOR, "a.cite")
        assert link.text == "[1]"
        link.click()
        dialog = wait.until(seen.visibility_of_element_located((By.ID, "passage")))
        assert "clinic-handbook.pdf, p. 4" in dialog.find_element(By.ID, "passage-where").text
        assert "10 years" in dialog.find_element(By.ID, "passage-text").text
        dialog.find_element(By.TAG_NAME, "button").click()

        # A file dropped on the page, as a person drags one from their desktop.
        driver.find_element(By.ID, "collection").send_keys("front desk")  # type: ignore[attr-defined]
        driver.execute_script(  # type: ignore[attr-defined]
            """
            const data = new DataTransfer();
            data.items.add(new File(
                ["Parking permits for staff are issued by Mirela Okafor at the front desk."],
                "parking-permits.txt", {type: "text/plain"}));
            const drop = document.getElementById("drop");
            drop.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
            """
        )
        wait.until(seen.text_to_be_present_in_element((By.ID, "documents"), "parking-permits.txt"))
        assert "Indexed 1 file" in driver.find_element(By.ID, "upload-status").text  # type: ignore[attr-defined]
        assert "front desk" in driver.find_element(By.ID, "documents").text  # type: ignore[attr-defined]
        assert (tmp_path / "uploads" / "parking-permits.txt").is_file()
        # Every request the page made went to the server itself.
        origins = driver.execute_script(  # type: ignore[attr-defined]
            "return performance.getEntriesByType('resource').map(e => new URL(e.name).origin)"
        )
        assert set(origins) <= {page_server}, origins
    except BaseException:
        print(f"screenshot of the page: {save()}")
        raise
