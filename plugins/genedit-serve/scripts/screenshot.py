"""Take docs/img/serve-page.png: the page after an upscale, in Debian's headless chromium.

    .venv/bin/python plugins/genedit-serve/scripts/screenshot.py

Starts ``genedit serve`` on a free loopback port, runs bicubic x4 on examples/cat.png through the
page and saves a screenshot with the before/after slider. Needs chromium and chromium-driver.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import Select

ROOT = Path(__file__).resolve().parents[3]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="genedit-serve-shot-"))
    genedit = Path(sys.executable).with_name("genedit")
    proc = subprocess.Popen(
        [str(genedit), "serve", "--port", "0", "--device", "cpu", "--workdir", str(work)],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = None
        while url is None:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None:
                raise SystemExit("genedit serve did not start")
            found = re.search(r"listening on (http://\S+)", line)
            url = found.group(1) if found else None
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1100,760"):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.get(url)
            while not driver.execute_script("return document.querySelectorAll('#task option').length"):
                time.sleep(0.2)
            Select(driver.find_element("id", "task")).select_by_value("upscale")
            Select(driver.find_element("id", "model")).select_by_value("bicubic")
            Select(driver.find_element("id", "scale")).select_by_value("4")
            driver.find_element("id", "file").send_keys(str(ROOT / "examples" / "cat.png"))
            driver.find_element("id", "run").click()
            while not driver.execute_script("return document.body.dataset.done"):
                time.sleep(0.2)
            time.sleep(0.5)
            out = ROOT / "docs" / "img" / "serve-page.png"
            driver.save_screenshot(str(out))
            print(f"wrote {out}")
        finally:
            driver.quit()
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
