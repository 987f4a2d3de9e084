"""Screenshots of the dashboard for docs/screenshots/, taken in headless Chromium.

    .venv/bin/python -m scripts.screenshots --token-file TOKEN [--url http://127.0.0.1:8080]
                                             [--out docs/screenshots]

Run it against the demo (`make demo` prints the URL and an admin token).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import httpx
from selenium.webdriver.common.by import By

from infra.browser import chromium, log_in, wait_for


def _busy_meter(url: str, token: str) -> str:
    """An online meter that drew water in the last month (not one of the three with faults)."""
    headers = {"Authorization": f"Bearer {token}"}
    online = httpx.get(
        f"{url}/api/v1/meters/status", headers=headers, params={"status": "online", "limit": 1000}
    )
    for meter in sorted(m["meter_id"] for m in online.json()["items"])[3:]:
        days = httpx.get(f"{url}/api/v1/meters/{meter}/daily-volumes", headers=headers).json()
        if len(days) > 20 and sum(float(d["volume_m3"]) for d in days) > 0:
            return str(meter)
    raise SystemExit("no online meter drew water in the last 30 days")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080")
    parser.add_argument("--token-file", required=True, help="a file holding an operator or admin token")
    parser.add_argument("--out", default="docs/screenshots")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with chromium(width=1400, height=1500) as driver:
        token = Path(args.token_file).read_text().strip()
        log_in(driver, args.url, token)
        wait_for(driver, "#fleet-totals")
        wait_for(driver, "#map .intake-map svg path")
        time.sleep(2)
        driver.save_screenshot(str(out / "overview-zh.png"))
        meter = _busy_meter(args.url, token)
        driver.get(f"{args.url}/#/meter/{meter}")
        wait_for(driver, "#flow-chart .echart svg path")
        wait_for(driver, "#volume-chart .echart svg path")
        time.sleep(2)
        driver.save_screenshot(str(out / "meter-zh.png"))
        driver.get(f"{args.url}/#/findings")
        wait_for(driver, "#findings tr[data-finding]")
        driver.find_element(By.ID, "lang").click()
        wait_for(driver, "#findings tr[data-finding]")
        time.sleep(1)
        driver.save_screenshot(str(out / "findings-en.png"))
        driver.get(f"{args.url}/#/map")
        wait_for(driver, "#map .intake-map svg path")
        time.sleep(2)
        driver.save_screenshot(str(out / "map-en.png"))
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
