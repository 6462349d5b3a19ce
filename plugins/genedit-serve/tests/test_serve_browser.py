"""The page in a real browser: Debian's headless chromium, driven by Selenium through chromedriver.

The test starts ``genedit serve`` on a free loopback port in a subprocess (the installed plugins,
as a user gets them), opens the page, picks ``upscale`` with ``bicubic`` (weightless, offline),
uploads examples/cat.png, waits for the result and checks its size, on the page and downloaded.
Nothing downloads a browser or a driver: without Debian's ``chromium`` and ``chromium-driver``
(which .ci/run installs) the test skips and says why.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CAT = ROOT / "examples" / "cat.png"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
)

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="no chromium/chromedriver on PATH: install Debian's chromium and chromium-driver (.ci/run does)",
)


HAVE_RESTORE = importlib.util.find_spec("genedit_restore") is not None
HAVE_GAN = importlib.util.find_spec("genedit_gan") is not None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``genedit serve --port 0`` in a subprocess; yields its base URL, stops it afterwards."""
    tmp_path = tmp_path_factory.mktemp("serve")
    plugins = ",".join(["sr", "serve"] + ["restore"] * HAVE_RESTORE + ["gan"] * HAVE_GAN)
    env = {**os.environ, "GENEDIT_LOAD_PLUGINS": plugins, "COLUMNS": "200"}
    genedit = Path(sys.executable).with_name("genedit")
    proc = subprocess.Popen(
        [str(genedit), "serve", "--port", "0", "--device", "cpu", "--workdir", str(tmp_path / "work")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        url, seen = None, []
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
            seen.append(line)
            found = re.search(r"listening on (http://127\.0\.0\.1:\d+/)", line)
            url = found.group(1) if found else None
        assert url, f"genedit serve did not start: {''.join(seen)[-2000:]}"
        yield url.rstrip("/")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is a test dependency: pip install genedit-serve[test]"
    )
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1200,900",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _select(driver: object, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", element_id)).select_by_value(value)


def _wait(driver: object, script: str, timeout: float = 60) -> object:
    """Poll ``script`` (JS returning a value) until it is truthy; the page's error line on failure."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = driver.execute_script(script)
        if value:
            return value
        error = driver.execute_script(
            "return document.getElementById('error').hidden ? '' : document.getElementById('error').textContent"
        )
        assert not error, f"the page shows an error: {error}"
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for: {script}")


def test_upscale_with_bicubic_in_a_real_browser(server: str, browser: object) -> None:
    driver = browser
    driver.get(server + "/")
    _wait(driver, "return document.querySelectorAll('#task option').length > 0")
    _select(driver, "task", "upscale")
    _select(driver, "model", "bicubic")
    _select(driver, "scale", "2")
    driver.find_element("id", "file").send_keys(str(CAT))
    driver.find_element("id", "run").click()
    job = _wait(driver, "return document.body.dataset.done")
    size = _wait(
        driver,
        "const r = document.getElementById('result'); return r.naturalWidth && [r.naturalWidth, r.naturalHeight]",
    )
    assert size == [450, 300]  # cat.png is 225×150
    assert driver.find_element("id", "download").get_attribute("download") == "cat_bicubic_x2.png"
    driver.execute_script(
        "const s = document.getElementById('slider'); s.value = 20; s.dispatchEvent(new Event('input'))"
    )
    assert (
        driver.execute_script("return document.getElementById('after-clip').style.clipPath")
        == "inset(0px 0px 0px 20%)"
    )

    from PIL import Image

    with urllib.request.urlopen(f"{server}/jobs/{job}/result") as res:
        provenance = json.loads(res.headers["X-Genedit-Provenance"])
        image = Image.open(res)
        image.load()
    assert image.size == (450, 300) and provenance["model"] == "bicubic" and provenance["scale"] == 2


@pytest.mark.skipif(
    importlib.util.find_spec("genedit_restore") is None, reason="genedit-restore is not installed"
)
def test_inpaint_with_a_mask_painted_on_the_page(server: str, browser: object) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver = browser
    driver.get(server + "/")
    _wait(driver, "return document.querySelectorAll('#task option').length > 0")
    _select(driver, "task", "inpaint")
    _select(driver, "model", "telea")
    driver.find_element("id", "file").send_keys(str(CAT))
    _wait(
        driver,
        "const c = document.getElementById('paint'); return !document.getElementById('paint-box').hidden && c.width",
    )
    canvas = driver.find_element("id", "paint")
    ActionChains(driver).move_to_element(canvas).click_and_hold().move_by_offset(150, 10).release().perform()
    painted = driver.execute_script(
        "const c = document.getElementById('paint'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n"
    )
    assert painted > 100  # the stroke is on the canvas
    driver.find_element("id", "run").click()
    job = _wait(driver, "return document.body.dataset.done")
    assert _wait(
        driver,
        "const r = document.getElementById('result'); return r.naturalWidth && [r.naturalWidth, r.naturalHeight]",
    ) == [225, 150]
    with urllib.request.urlopen(f"{server}/jobs/{job}") as res:
        record = json.loads(res.read())
    assert record["options"] == {"mask": "mask.png"} and record["model"] == "telea"
    from PIL import Image, ImageChops

    with urllib.request.urlopen(f"{server}/jobs/{job}/result") as res:
        filled = Image.open(res).convert("RGB")
    assert (
        ImageChops.difference(filled, Image.open(CAT).convert("RGB")).getbbox() is not None
    )  # the hole was filled


@pytest.mark.skipif(not HAVE_GAN, reason="genedit-gan is not installed")
def test_generate_takes_seeds_and_shows_the_samples_and_their_grid(server: str, browser: object) -> None:
    driver = browser
    driver.get(server + "/")
    _wait(driver, "return document.querySelectorAll('#task option').length > 0")
    _select(driver, "task", "generate")
    _select(driver, "model", "dcgan")  # its bundled digits weights: offline
    assert driver.find_element("id", "input-box").get_attribute("hidden") is not None  # no upload
    seeds = driver.find_element("id", "seeds")
    seeds.clear()
    seeds.send_keys("0-3")
    driver.find_element("id", "run").click()
    _wait(driver, "return document.body.dataset.done")
    shown = _wait(
        driver,
        "const g = [...document.querySelectorAll('#gallery img')];"
        "return g.length && g.every(i => i.naturalWidth) && g.map(i => [i.alt, i.naturalWidth])",
    )
    assert [alt for alt, _ in shown] == ["dcgan_grid.png"] + [f"dcgan_seed{i}.png" for i in range(4)]
    grid, one = shown[0][1], shown[1][1]
    assert grid == 2 * one + 3 * 2  # two columns of samples with 2-pixel gutters


def test_an_image_dropped_on_the_page_is_the_input(server: str, browser: object) -> None:
    driver = browser
    driver.get(server + "/")
    _wait(driver, "return document.querySelectorAll('#task option').length > 0")
    _select(driver, "task", "upscale")
    _select(driver, "model", "bicubic")
    _select(driver, "scale", "3")
    # what a drop from the file manager delivers: a DataTransfer holding a PNG file (40×30, drawn here)
    driver.execute_script(
        "const c = document.createElement('canvas'); c.width = 40; c.height = 30;"
        "c.getContext('2d').fillRect(5, 5, 10, 10);"
        "c.toBlob(b => { const dt = new DataTransfer(); dt.items.add(new File([b], 'drawn.png', {type: 'image/png'}));"
        "document.getElementById('drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true})); });"
    )
    _wait(driver, "return document.getElementById('file-name').textContent === 'drawn.png'")
    driver.find_element("id", "run").click()
    _wait(driver, "return document.body.dataset.done")
    size = _wait(
        driver,
        "const r = document.getElementById('result'); return r.naturalWidth && [r.naturalWidth, r.naturalHeight]",
    )
    assert size == [120, 90]
    assert driver.find_element("id", "download").get_attribute("download") == "drawn_bicubic_x3.png"
