"""The dashboard in real headless Chromium against a real `intake api` server: login, the status
counts equal the API's, an offline meter opens its page with charts, an operator moves a finding to
rectifying and an auditor cannot, the language switch, the map."""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import psycopg
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from api import accounts
from api.auth import Role
from devices.topics import readings_topic
from infra.browser import available, chromium, log_in, wait_for
from infra.sandbox import PrivatePostgres
from infra.testbed import api_server
from tests.api.conftest import bearer
from tests.conftest import drop_database, fresh_database
from tests.intake.test_cli import intake
from tests.roles import API, as_role

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("api") / "api.log"


@pytest.fixture(scope="module")
def server(county_url: str, server_log: Path) -> Iterator[str]:
    assert available(), "Debian's chromium and chromedriver are missing: run scripts/dev-deps as root"
    with server_log.open("w") as log, api_server(as_role(county_url, API), log=log) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


def shot(driver: WebDriver, name: str) -> None:
    folder = os.environ.get("INTAKE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def fresh(driver: WebDriver, url: str, token: str) -> None:
    driver.get(url + "/")
    driver.execute_script("sessionStorage.clear(); localStorage.clear();")
    log_in(driver, url, token)


def test_a_bad_token_is_refused_on_the_login_form(browser: WebDriver, server: str) -> None:
    browser.get(server + "/")
    browser.execute_script("sessionStorage.clear();")
    browser.get(server + "/")
    wait_for(browser, "#token").send_keys("itk_" + "x" * 43)
    browser.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "login-error").text)
    assert "令牌无效" in browser.find_element(By.ID, "login-error").text
    assert browser.find_element(By.ID, "nav").get_attribute("hidden") is not None


def test_status_counts_equal_the_apis(browser: WebDriver, server: str, tokens: dict[Role, str]) -> None:
    fresh(browser, server, tokens[Role.AUDITOR])
    wait_for(browser, "#fleet-totals")
    shown = {
        cell.get_attribute("data-total"): int(cell.text)
        for cell in browser.find_elements(By.CSS_SELECTOR, "#fleet-totals td[data-total]")
    }
    counties = httpx.get(server + "/api/v1/fleet/summary", headers=bearer(tokens[Role.AUDITOR])).json()
    expected = {k: sum(c[k] for c in counties) for k in ("online", "offline", "never_reported", "total")}
    assert shown == expected and expected["offline"] == 3 and expected["online"] == 6
    rows = browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")
    assert sorted(str(r.get_attribute("data-county")) for r in rows) == sorted(c["county"] for c in counties)
    assert "test-auditor" in browser.find_element(By.ID, "who").text
    shot(browser, "overview")


def test_an_offline_meter_opens_its_page_with_charts(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    fresh(browser, server, tokens[Role.AUDITOR])
    link = wait_for(browser, "#offline a.meter-link")
    meter = link.text
    assert browser.find_elements(By.CSS_SELECTOR, "#offline td.since")[0].text != "—"
    link.click()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith(f"#/meter/{meter}"))
    wait_for(browser, "#flow-chart .echart svg path")
    wait_for(browser, "#volume-chart .echart svg path")
    flow = _drawn(browser, "#flow-chart .echart")
    assert len([p for p in flow[0] if p[1] is not None]) > 10  # hourly means over days
    bars = _drawn(browser, "#volume-chart .echart")[0]
    days = httpx.get(
        f"{server}/api/v1/meters/{meter}/daily-volumes", headers=bearer(tokens[Role.AUDITOR])
    ).json()
    assert [b["value"] for b in bars] == [float(d["reported_m3"]) for d in days] and len(days) > 20
    assert "离线" in browser.find_element(By.ID, "meter-status").text
    shot(browser, "meter")


def test_an_operator_moves_a_finding_to_rectifying(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    fresh(browser, server, tokens[Role.OPERATOR])
    button = wait_for(browser, "#findings tr[data-state=open] button.rectify")
    row = button.find_element(By.XPATH, "./ancestor::tr")
    finding = row.get_attribute("data-finding")
    button.click()
    browser.find_element(By.ID, "measure").send_keys("更换电池，恢复上报")
    browser.find_element(By.ID, "responsible").send_keys("县水利局 李四")
    browser.execute_script("document.getElementById('deadline').value = '2026-12-31'")
    browser.find_element(By.ID, "rectify-ok").click()
    # The ledger is drawn again after the move: rows read mid-redraw are stale, and are read again.
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, f"#findings tr[data-finding='{finding}']").get_attribute(
                "data-state"
            )
            == "rectifying"
        )
    )
    stored = httpx.get(f"{server}/api/v1/findings/{finding}", headers=bearer(tokens[Role.AUDITOR])).json()
    assert (stored["state"], stored["responsible"], stored["history"][-1]["actor"]) == (
        "rectifying",
        "县水利局 李四",
        "test-operator",
    )
    assert browser.find_elements(By.CSS_SELECTOR, f"#findings tr[data-finding='{finding}'] button.close")


def test_an_auditor_sees_no_lifecycle_actions(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    fresh(browser, server, tokens[Role.AUDITOR])
    wait_for(browser, "#findings tr[data-finding]")
    assert browser.find_elements(By.CSS_SELECTOR, "#findings button.act") == []
    assert "只读" in browser.find_element(By.CSS_SELECTOR, "#findings thead").text
    # ... and the API would refuse the move if the page offered it.
    finding = browser.find_element(By.CSS_SELECTOR, "#findings tr[data-state=open]").get_attribute(
        "data-finding"
    )
    refused = httpx.post(
        f"{server}/api/v1/findings/{finding}/rectify",
        headers=bearer(tokens[Role.AUDITOR]),
        json={"measure": "m", "responsible": "r", "deadline": "2026-12-31"},
    )
    assert refused.status_code == 403


def test_an_operator_records_a_calibration_on_the_meter_page(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    due = httpx.get(
        server + "/api/v1/calibrations/due", headers=bearer(tokens[Role.AUDITOR]), params={"overdue": True}
    )
    meter = due.json()["items"][0]["meter_id"]
    fresh(browser, server, tokens[Role.AUDITOR])
    browser.get(f"{server}/#/meter/{meter}")
    wait_for(browser, "#meter-calibrations table, #meter-calibrations p.muted")
    assert browser.find_elements(By.ID, "calibration-form") == []  # an auditor only reads

    fresh(browser, server, tokens[Role.OPERATOR])
    browser.get(f"{server}/#/meter/{meter}")
    form = wait_for(browser, "#calibration-form")
    today = date.today().isoformat()
    browser.execute_script("document.getElementById('calibrated_on').value = arguments[0]", today)
    form.find_element(By.ID, "certificate_no").send_keys("JD-2026-118")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: "JD-2026-118" in d.find_element(By.ID, "meter-calibrations").text
    )
    stored = httpx.get(f"{server}/api/v1/meters/{meter}/calibrations", headers=bearer(tokens[Role.AUDITOR]))
    assert [(c["calibrated_on"], c["certificate_no"]) for c in stored.json()["items"][:1]] == [
        (today, "JD-2026-118")
    ]
    still_due = httpx.get(server + "/api/v1/calibrations/due", headers=bearer(tokens[Role.AUDITOR]))
    assert meter not in [d["meter_id"] for d in still_due.json()["items"] if d["overdue"]]


def test_an_auditor_corrects_a_day_on_the_meter_page_and_revokes_it(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    """The day's reported volume follows the correction (checked through the API), the register's
    volume stays shown, and revoking it (with a reason) puts the register's volume back."""
    auditor = bearer(tokens[Role.AUDITOR])
    status = httpx.get(server + "/api/v1/meters/status", headers=auditor, params={"status": "online"})
    meter = status.json()["items"][0]["meter_id"]
    days = httpx.get(f"{server}/api/v1/meters/{meter}/daily-volumes", headers=auditor).json()
    day = next(d for d in days if d["method"] == "metered")
    fresh(browser, server, tokens[Role.AUDITOR])
    browser.get(f"{server}/#/meter/{meter}")
    form = wait_for(browser, "#correction-form")
    # and the days the status sweep never watched show no online share ("—"), not 0 %
    reporting = wait_for(browser, "#meter-days table").find_element(By.XPATH, "..").text
    assert "—" in reporting and "状态监测尚未覆盖" in reporting
    browser.execute_script("document.getElementById('correction-day').value = arguments[0]", day["day"])
    form.find_element(By.ID, "correction-volume").send_keys("77.5")
    form.find_element(By.ID, "correction-reason").send_keys("读数核对")
    form.find_element(By.ID, "correction-evidence").send_keys("照片 2026-11-30")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: "77.5" in d.find_element(By.ID, "meter-corrections").text
    )
    shown = browser.find_element(By.CSS_SELECTOR, "#meter-corrections .corrected-days").text
    assert day["day"] in shown and day["volume_m3"] in shown  # the register's volume stays visible
    (after,) = [d for d in httpx.get(f"{server}/api/v1/meters/{meter}/daily-volumes", headers=auditor).json()
                if d["day"] == day["day"]]  # fmt: skip
    assert (after["method"], after["reported_m3"], after["volume_m3"]) == (
        "corrected",
        "77.5",
        day["volume_m3"],
    )

    browser.find_element(By.CSS_SELECTOR, "#meter-corrections button.revoke").click()
    prompt = WebDriverWait(browser, 10).until(lambda d: d.switch_to.alert)
    prompt.send_keys("更正有误")
    prompt.accept()
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#meter-corrections tr.revoked")
    )
    (back,) = [d for d in httpx.get(f"{server}/api/v1/meters/{meter}/daily-volumes", headers=auditor).json()
               if d["day"] == day["day"]]  # fmt: skip
    assert (back["method"], back["reported_m3"]) == ("metered", day["volume_m3"])


def test_the_ledger_page_filters_by_state(browser: WebDriver, server: str, tokens: dict[Role, str]) -> None:
    first = httpx.get(
        server + "/api/v1/findings", headers=bearer(tokens[Role.AUDITOR]), params={"state": "open"}
    )
    moved = httpx.post(
        f"{server}/api/v1/findings/{first.json()['items'][0]['id']}/rectify",
        headers=bearer(tokens[Role.OPERATOR]),
        json={"measure": "m", "responsible": "r", "deadline": "2026-12-31"},
    )
    assert moved.status_code == 200
    fresh(browser, server, tokens[Role.AUDITOR])
    browser.get(server + "/#/findings")
    Select(wait_for(browser, "#finding-filter")).select_by_value("rectifying")
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: (
            {
                r.get_attribute("data-state")
                for r in d.find_elements(By.CSS_SELECTOR, "#findings tr[data-finding]")
            }
            == {"rectifying"}
        )
    )
    shown = {
        r.get_attribute("data-finding")
        for r in browser.find_elements(By.CSS_SELECTOR, "#findings tr[data-finding]")
    }
    listed = httpx.get(
        server + "/api/v1/findings", headers=bearer(tokens[Role.AUDITOR]), params={"state": "rectifying"}
    ).json()["items"]
    assert shown == {str(f["id"]) for f in listed} and shown
    assert browser.find_elements(By.CSS_SELECTOR, "a.export-ledger-xlsx")


def _drawn(browser: WebDriver, css: str) -> Any:
    """The data an ECharts chart on the page draws, series by series (what its user sees plotted)."""
    return browser.execute_script(
        "const chart = echarts.getInstanceByDom(document.querySelector(arguments[0]));"
        "return chart.getOption().series.map((s) => s.data);",
        css,
    )


def test_the_map_draws_the_county_outlines_and_every_intake_and_a_click_opens_its_meter(
    browser: WebDriver, server: str, county_url: str, tokens: dict[Role, str]
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    fresh(browser, server, tokens[Role.AUDITOR])
    browser.get(server + "/#/map")
    wait_for(browser, "#map .intake-map svg path")
    features = httpx.get(server + "/api/v1/map.geojson", headers=auditor).json()["features"]
    outlines = httpx.get(server + "/api/v1/map/outlines.geojson", headers=auditor).json()["features"]
    with psycopg.connect(
        county_url
    ) as conn:  # every county holding an intake has its outline (zones have none)
        counties = {
            code
            for (code,) in conn.execute(
                "SELECT DISTINCT i.division_code FROM intakes i JOIN divisions d ON d.code = i.division_code "
                "WHERE d.kind = 'gb2260'"
            )
        }
    assert counties and counties <= {o["properties"]["division_code"] for o in outlines}
    drawn = _drawn(browser, "#map .intake-map")
    assert sorted(p["code"] for series in drawn for p in series) == sorted(
        f["properties"]["code"] for f in features
    )
    offline = [p for series in drawn for p in series if p["status"] == "offline"]
    assert len(offline) == 3
    # the outlines are drawn: a region per county, with its name
    regions = browser.execute_script(
        "return [...document.querySelectorAll('#map .intake-map svg path')]"
        ".filter((p) => p.getAttribute('fill') === '#f2f5f8').length"
    )
    assert regions >= len(outlines) > 50
    labels = {t.text for t in browser.find_elements(By.CSS_SELECTOR, "#map .intake-map svg text")}
    assert {"建平县", "北票市", "朝阳县"} <= labels
    # a click on an offline intake's point opens its meter
    target = offline[0]
    x, y = browser.execute_script(
        "const chart = echarts.getInstanceByDom(document.querySelector('#map .intake-map'));"
        "return chart.convertToPixel({geoIndex: 0}, arguments[0]);",
        target["value"],
    )
    box = browser.find_element(By.CSS_SELECTOR, "#map .intake-map")
    ActionChains(browser).move_to_element_with_offset(
        box, x - box.size["width"] / 2, y - box.size["height"] / 2
    ).click().perform()
    WebDriverWait(browser, 10).until(lambda d: d.current_url.endswith(f"#/meter/{target['meter']}"))
    browser.get(server + "/#/map")
    browser.find_element(By.ID, "lang").click()
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#map h2").text == "Map of intakes"
    )
    assert browser.find_element(By.CSS_SELECTOR, "#nav a[href='#/findings']").text == "Findings"
    wait_for(browser, "#map .intake-map svg path")
    time.sleep(1)  # the outlines' first frame
    shot(browser, "map-en")
    browser.execute_script("localStorage.clear()")


def test_a_meters_page_shows_who_changed_its_registry_entry(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    auditor = bearer(tokens[Role.AUDITOR])
    meter = httpx.get(server + "/api/v1/meters", headers=auditor).json()["items"][0]
    changed = httpx.patch(
        f"{server}/api/v1/meters/{meter['meter_id']}",
        headers=bearer(tokens[Role.OPERATOR]),
        json={"serial": "SN-AUDIT-7"},
    )
    assert changed.status_code == 200, changed.text
    fresh(browser, server, tokens[Role.AUDITOR])
    browser.get(f"{server}/#/meter/{meter['meter_id']}")
    wait_for(browser, "#meter-changes tr.change")
    rows = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "#meter-changes tr.change")]
    assert any("test-operator" in r and "serial" in r and "SN-AUDIT-7" in r for r in rows), rows
    assert any("(created)" in r for r in rows)  # the meter's and its intake's registration


def test_a_county_user_sees_only_its_county(browser: WebDriver, server: str, tokens: dict[Role, str]) -> None:
    admin = bearer(tokens[Role.ADMIN])
    counties = httpx.get(server + "/api/v1/fleet/summary", headers=admin).json()
    intakes = httpx.get(server + "/api/v1/intakes", headers=admin, params={"limit": 1000}).json()["items"]
    county = counties[0]["county"]
    code = next(i["division_code"] for i in intakes if i["county"] == county)
    issued = httpx.post(
        server + "/api/v1/users",
        headers=admin,
        json={"name": "county-clerk", "role": "auditor", "division_code": code},
    )
    assert issued.status_code == 201, issued.text
    fresh(browser, server, issued.json()["token"])
    wait_for(browser, "#fleet-totals")
    rows = browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")
    assert [r.get_attribute("data-county") for r in rows] == [county]
    assert county in browser.find_element(By.ID, "who").text
    shown = int(browser.find_element(By.CSS_SELECTOR, "#fleet-totals td[data-total=total]").text)
    assert shown == counties[0]["total"]


def _user(server: str, admin: str, name: str, role: str, division: str) -> str:
    made = httpx.post(
        server + "/api/v1/users",
        headers=bearer(admin),
        json={"name": name, "role": role, "division_code": division},
    )
    assert made.status_code == 201, made.text
    return str(made.json()["token"])


def test_a_review_cycle_in_the_browser(browser: WebDriver, server: str, tokens: dict[Role, str]) -> None:
    """County submits, the city returns it with a reason, the county fixes a finding and submits again,
    the city sees what changed and accepts, the city submits to the province."""
    admin = tokens[Role.ADMIN]
    finding = httpx.get(server + "/api/v1/findings", headers=bearer(admin), params={"state": "open"}).json()[
        "items"
    ][0]
    county = httpx.get(f"{server}/api/v1/intakes/{finding['intake_code']}", headers=bearer(admin)).json()[
        "division_code"
    ]
    county_op = _user(server, admin, "review-county-op", "operator", county)
    city_aud = _user(server, admin, "review-city-aud", "auditor", "211300")
    city_op = _user(server, admin, "review-city-op", "operator", "211300")

    def submissions(token: str) -> list[tuple[str, int, str]]:
        items = httpx.get(server + "/api/v1/submissions", headers=bearer(token)).json()["items"]
        return sorted((s["division_code"], s["version"], s["state"]) for s in items)

    fresh(browser, server, county_op)
    browser.get(server + "/#/review")
    wait_for(browser, "#submit-year").click()
    wait_for(browser, "#my-submissions tr.submission[data-state=submitted]")
    assert browser.find_elements(By.ID, "submit-year") == []  # nothing more to submit while under review

    fresh(browser, server, city_aud)
    browser.get(server + "/#/review")
    block = wait_for(browser, f"#review-queue .review[data-division='{county}']")
    block.find_element(By.CSS_SELECTOR, ".return-reason").send_keys("整改台账第1项未落实")
    block.find_element(By.CSS_SELECTOR, "button.return").click()
    wait_for(browser, "#review-queue p.muted")
    assert submissions(city_aud) == [(county, 1, "returned")]

    fresh(browser, server, county_op)
    browser.get(server + "/#/review")
    returned = wait_for(browser, "#my-submissions tr.submission[data-state=returned]")
    assert "整改台账第1项未落实" in returned.text
    fix = {"measure": "加装计量设施", "responsible": "县水利局", "deadline": "2026-12-31"}
    fixed = httpx.post(
        f"{server}/api/v1/findings/{finding['id']}/rectify", headers=bearer(county_op), json=fix
    )
    assert fixed.status_code == 200, fixed.text
    wait_for(browser, "#submit-year").click()
    wait_for(browser, "#my-submissions tr.submission[data-version='2'][data-state=submitted]")

    fresh(browser, server, city_aud)
    browser.get(server + "/#/review")
    block = wait_for(browser, f"#review-queue .review[data-division='{county}'][data-version='2']")
    changes = block.find_elements(By.CSS_SELECTOR, "tr.row-change")
    assert changes and any(c.get_attribute("data-report") == "ledger" for c in changes)
    shot(browser, "review-zh")
    block.find_element(By.CSS_SELECTOR, "button.accept").click()
    wait_for(browser, "#review-queue p.muted")
    assert submissions(city_aud) == [(county, 1, "returned"), (county, 2, "accepted")]

    fresh(browser, server, city_op)
    browser.get(server + "/#/review")
    wait_for(browser, "#submit-year").click()
    wait_for(browser, "#my-submissions tr.submission[data-state=submitted]")
    assert ("211300", 1, "submitted") in submissions(admin)


def test_a_monthly_progress_report_is_reviewed_beside_the_years(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    """A county's progress report waits in the city's queue as that month's; it does not stand in for
    the year's submission on the county's own page."""
    admin = tokens[Role.ADMIN]
    taken = {
        s["division_code"]
        for s in httpx.get(server + "/api/v1/submissions", headers=bearer(admin)).json()["items"]
    }
    intakes = httpx.get(server + "/api/v1/intakes", headers=bearer(admin), params={"limit": 1000}).json()[
        "items"
    ]
    county = sorted({i["division_code"] for i in intakes if i["division_code"]} - taken)[0]
    county_op = _user(server, admin, "progress-county-op", "operator", county)
    city_aud = _user(server, admin, "progress-city-aud", "auditor", "211300")
    last_month = (date.today().replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    made = httpx.post(server + "/api/v1/progress-reports", headers=bearer(county_op),
                      json={"month": last_month, "work": "核查登记", "difficulties": "人手不足"})  # fmt: skip
    assert made.status_code == 201, made.text

    fresh(browser, server, county_op)
    browser.get(server + "/#/review")
    wait_for(browser, "#submit-year")  # the year's reports are still to be submitted
    fresh(browser, server, city_aud)
    browser.get(server + "/#/review")
    block = wait_for(browser, f"#review-queue .review[data-division='{county}']")
    assert f"月度进展 {last_month}" in block.text
    notes = block.find_element(By.CSS_SELECTOR, "dl.progress-notes").text
    assert "存在的困难和问题" in notes and "人手不足" in notes
    block.find_element(By.CSS_SELECTOR, "button.accept").click()
    wait_for(browser, "#review-queue p.muted")
    state = httpx.get(f"{server}/api/v1/submissions/{made.json()['id']}", headers=bearer(city_aud)).json()[
        "state"
    ]
    assert state == "accepted"


CAPTURE_DOWNLOADS = """
window.downloads = [];
const make = URL.createObjectURL.bind(URL);
URL.createObjectURL = (blob) => { window.downloads.push(blob); return make(blob); };
"""


def _downloaded_text(browser: WebDriver) -> str:
    text: str = browser.execute_async_script(
        "const done = arguments[arguments.length - 1]; window.downloads.at(-1).text().then(done);"
    )
    return text


def test_every_table_exports_what_it_shows_as_csv(
    browser: WebDriver, server: str, tokens: dict[Role, str]
) -> None:
    fresh(browser, server, tokens[Role.AUDITOR])
    wait_for(browser, "#fleet-totals")
    browser.execute_script(CAPTURE_DOWNLOADS)
    browser.find_element(By.CSS_SELECTOR, "#fleet button.csv-export").click()
    lines = _downloaded_text(browser).removeprefix("\ufeff").splitlines()
    shown = browser.find_elements(By.CSS_SELECTOR, "#fleet tr")
    assert len(lines) == len(shown)  # the header, a row per county, the totals
    assert lines[-1].split(",") == [c.text for c in shown[-1].find_elements(By.CSS_SELECTOR, "th, td")]
    wait_for(browser, "#findings table")
    wait_for(browser, "#offline table")
    every = browser.execute_script(  # every table on the page, not only this one, has its button
        "const all = [...document.querySelectorAll('#view table')];"
        "return [all.length, all.every((t) => t.previousElementSibling?.classList.contains('csv-export'))];"
    )
    assert every[0] >= 3 and every[1] is True, every
    # text a spreadsheet would run is guarded, as the service's own exports do
    browser.execute_script(
        "const td = document.querySelector('#fleet tbody td'); td.textContent = '=HYPERLINK(\"x\")';"
    )
    browser.find_element(By.CSS_SELECTOR, "#fleet button.csv-export").click()
    assert '\n"\'=HYPERLINK(""x"")",' in _downloaded_text(browser)


def test_an_empty_registry_shows_what_to_do_first(
    browser: WebDriver, postgres: PrivatePostgres, tmp_path: Path
) -> None:
    name = fresh_database(postgres)
    url = postgres.url(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            admin = accounts.add(conn, "first-admin", Role.ADMIN, "tests")
            auditor = accounts.add(conn, "first-auditor", Role.AUDITOR, "tests")
        with api_server(as_role(url, API)) as empty:
            template = httpx.get(empty + "/api/v1/registry/template", headers=bearer(auditor))
            assert template.status_code == 200
            book = openpyxl.load_workbook(io.BytesIO(template.content))
            assert book.sheetnames == ["取水口", "取水许可", "监测计量设施", "检定记录"]
            assert [c.value for c in book["取水口"][1]][:2] == ["取水口编号", "取水口名称"]
            assert book["取水口"].max_row == 1  # headers only

            fresh(browser, empty, auditor)
            card = wait_for(browser, "#first-run")
            assert "下载模板" in card.text and browser.find_elements(By.ID, "import-file") == []
            fresh(browser, empty, admin)
            wait_for(browser, "#first-run")
            sample = tmp_path / "first.xlsx"
            made = intake("registry", "sample", "--intakes", "6", "--seed", "3", "--out", str(sample))
            assert made.returncode == 0, made.stderr
            browser.find_element(By.ID, "import-file").send_keys(str(sample))
            wait_for(browser, "#fleet-totals")  # imported: the overview
            assert browser.find_elements(By.ID, "first-run") == []
            with psycopg.connect(url) as conn:  # every meter the import registered is counted
                row = conn.execute("SELECT count(*) FROM meters WHERE removed_on IS NULL").fetchone()
            total = browser.find_element(By.CSS_SELECTOR, "#fleet-totals [data-total=total]").text
            assert row is not None and row[0] > 0 and total == str(row[0])
    finally:
        drop_database(postgres, name)


def test_an_operator_enters_manual_readings_and_sees_the_days_volume(
    browser: WebDriver, server: str, county_url: str, tokens: dict[Role, str], tmp_path: Path
) -> None:
    """人工抄表 on a meter that never reported: two readings from the form, the day's volume shown is
    the one reports count; then a batch file whose bad row is named and whose good row is stored."""
    with psycopg.connect(county_url) as conn:
        row = conn.execute(
            "SELECT meter_id FROM meters m WHERE removed_on IS NULL "
            "AND installed_on < now() - interval '30 days' "
            "AND NOT EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = m.meter_id) ORDER BY 1 LIMIT 1"
        ).fetchone()
    assert row is not None
    meter = row[0]
    fresh(browser, server, tokens[Role.AUDITOR])
    browser.get(f"{server}/#/meter/{meter}")
    wait_for(browser, "#meter-manual p.muted, #meter-manual table")
    assert browser.find_elements(By.ID, "manual-form") == []  # an auditor only reads

    fresh(browser, server, tokens[Role.OPERATOR])
    browser.get(f"{server}/#/meter/{meter}")
    today = date.today()
    first, second = today - timedelta(days=3), today - timedelta(days=1)
    for when, total, rows in ((first, "1000", 1), (second, "1048", 2)):
        form = wait_for(browser, "#manual-form")
        browser.execute_script(
            "document.getElementById('manual-read-at').value = arguments[0]", f"{when.isoformat()}T08:00"
        )
        form.find_element(By.ID, "manual-total").send_keys(total)
        form.find_element(By.ID, "manual-read-by").send_keys("张三")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "#meter-manual tbody tr")) == rows  # noqa: B023
        )
    auditor = bearer(tokens[Role.AUDITOR])
    days = httpx.get(
        f"{server}/api/v1/meters/{meter}/daily-volumes",
        headers=auditor,
        params={"from": first.isoformat(), "to": second.isoformat()},
    ).json()
    by_day = {d["day"]: d["reported_m3"] for d in days}
    assert float(by_day[first.isoformat()]) == 16.0  # 08:00 to midnight: 16 of the interval's 48 hours
    assert sum(float(v) for v in by_day.values()) == 48.0  # 16 + 24 + 8: exactly what the register passed
    shown = {
        tr.find_element(By.CSS_SELECTOR, "td.num:nth-child(2)").text: tr.find_element(
            By.CSS_SELECTOR, "td.day-volume"
        ).text
        for tr in browser.find_elements(By.CSS_SELECTOR, "#meter-manual tbody tr")
    }
    assert shown == {"1000": by_day[first.isoformat()], "1048": by_day[second.isoformat()]}, shown
    got = httpx.get(
        f"{server}/api/v1/meters/{meter}/readings",
        headers=auditor,
        params={"from": f"{first.isoformat()}T00:00:00+08:00", "to": f"{today.isoformat()}T00:00:00+08:00"},
    )
    assert got.status_code == 200, got.text
    assert [(r["manual"], r["read_by"]) for r in got.json()["items"]] == [(True, "张三"), (True, "张三")]

    batch = tmp_path / "readings.csv"
    batch.write_text(
        "计量设施编号,抄表时间,表底数(m³),抄表人\n"
        f"{meter},{(today - timedelta(days=5)).isoformat()} 08:00,990,李四\n"
        f"{meter},{(today - timedelta(days=4)).isoformat()} 08:00,不是数字,李四\n",
        encoding="utf-8",
    )
    browser.find_element(By.ID, "manual-file").send_keys(str(batch))
    summary = wait_for(browser, "#meter-manual .batch-summary")
    assert "已写入 1" in summary.text and "未写入 1" in summary.text
    refused = browser.find_element(By.CSS_SELECTOR, "#meter-manual .manual-outcome table").text
    assert "不是数字" in refused and "bad_row" in refused
    WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#meter-manual tbody tr")) >= 3
    )


def test_an_operator_replays_rejected_messages_from_their_page(
    browser: WebDriver, server: str, county_url: str, tokens: dict[Role, str]
) -> None:
    """Messages the database refused while it was not itself (db_refused) wait on the page by meter
    and reason with their payload; a click replays them, their readings are stored once."""
    with psycopg.connect(county_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT meter_id FROM meters m WHERE removed_on IS NULL "
            "AND installed_on < now() - interval '30 days' "
            "AND NOT EXISTS (SELECT 1 FROM readings r WHERE r.meter_id = m.meter_id) ORDER BY 1 DESC LIMIT 1"
        ).fetchone()
        assert row is not None
        meter = row[0]
        start = datetime.now(UTC) - timedelta(days=20)
        payload = json.dumps(
            [{"ts": (start + timedelta(hours=h)).isoformat(), "total_m3": 500 + h} for h in range(3)]
        )
        conn.execute(
            "INSERT INTO rejected_messages (received_at, source, meter_id, topic, payload, reason, message) "
            "VALUES (%s, 'mqtt', %s, %s, %s, 'db_refused', 'the database was read-only')",
            (start + timedelta(hours=3), meter, readings_topic(meter), payload.encode()),
        )
    fresh(browser, server, tokens[Role.AUDITOR])
    browser.get(f"{server}/#/rejected")
    group = wait_for(browser, f"#rejected-summary tr.rejected-group[data-meter='{meter}']")
    assert group.find_elements(By.CSS_SELECTOR, "button.replay") == []  # an auditor only reads
    code = browser.find_element(By.CSS_SELECTOR, "#rejected-list code.payload")
    assert '"total_m3": 500' in code.text and code.get_attribute("title") == payload  # all of it on hover

    fresh(browser, server, tokens[Role.OPERATOR])
    browser.get(f"{server}/#/rejected")
    group = wait_for(browser, f"#rejected-summary tr.rejected-group[data-meter='{meter}']")
    assert group.find_element(By.CSS_SELECTOR, "td.waiting").text == "1"
    group.find_element(By.CSS_SELECTOR, "button.replay").click()
    outcome = WebDriverWait(browser, 10, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#rejected-summary .replay-outcome").text
    )
    assert "写入读数 3" in outcome, outcome
    after = wait_for(browser, f"#rejected-summary tr.rejected-group[data-meter='{meter}'] td.waiting")
    assert after.text == "0"
    with psycopg.connect(county_url) as conn:
        stored = conn.execute("SELECT count(*) FROM readings WHERE meter_id = %s", (meter,)).fetchone()
        marked = conn.execute(
            "SELECT count(*) FROM rejected_messages WHERE meter_id = %s AND replayed_at IS NOT NULL", (meter,)
        ).fetchone()
    assert stored == (3,) and marked == (1,)


def test_the_server_log_has_no_token(server: str, server_log: Path, tokens: dict[Role, str]) -> None:
    stranger = "itk_" + "y" * 43
    assert httpx.get(server + "/api/v1/me", headers=bearer(tokens[Role.ADMIN])).status_code == 200
    assert httpx.get(server + "/api/v1/me", headers=bearer(stranger)).status_code == 401
    time.sleep(0.5)
    log = server_log.read_text()
    assert "GET /api/v1/me" in log  # the access log is on, and names the path
    assert all(token not in log for token in [*tokens.values(), stranger])
    assert "itk_" not in log
