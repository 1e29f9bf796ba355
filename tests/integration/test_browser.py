"""The inbox in a real browser (Debian's chromium, driven by Playwright) on the real stack.

A caseworker signs in, a prison file is ingested, and its alert appears in the open list
without a reload; the caseworker opens it, acknowledges it and resolves it with a note.
Another caseworker, signed in the whole time, never sees it; the auditor sees the trail.
Screenshots of the list and the detail are saved in the test's folder and copied to
/tmp/ww-screenshots/ (or $WW_SCREENSHOTS) to be looked at.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.integration.conftest import WW, Cli, Worker, stored_alerts
from tests.ports import free_port
from welfare_watch.tokens import token_id_of

SAMPLES = Path(__file__).parent.parent / "data" / "samples"
CHROMIUM = Path("/usr/bin/chromium")
SECRET = "browser-test-secret-0123456789abcdef0123456789"
CASEWORKER = "cw-210104-02"  # the prison sample's person is in this caseworker's queue
OTHER = "cw-210105-01"
PERSON, NAME = "210104197502020776", "孙立强"
RECORD = "SJ-2026-00412"
NOTE = "已入户核实，本人在监服刑，已暂停发放。"
SHOTS = Path(os.environ.get("WW_SCREENSHOTS", "/tmp/ww-screenshots"))


@pytest.fixture()
def people(ww: Cli) -> Cli:
    """The command line with the secret the web app signs and checks tokens with."""
    return Cli({**ww.env, "WW_SECRET_KEY": SECRET})


@pytest.fixture()
def web_url(people: Cli, tmp_path: Path) -> Iterator[str]:
    """`welfare-watch web` on a free port, as deployed."""
    port = free_port()
    log = (tmp_path / "web.log").open("ab")
    process = subprocess.Popen(
        [WW, "web", "--port", str(port)], env=people.env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "web.log").read_text()[-3000:]) from None
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


@pytest.fixture()
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # failed, not skipped: a skip would hide a missing install
        pytest.fail("no /usr/bin/chromium: `make setup` installs it (scripts/browser.sh)")
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if not fonts.stdout.strip():  # Chinese would be drawn as boxes in the screenshots
        pytest.fail("no Chinese font: `make setup` installs fonts-noto-cjk (scripts/browser.sh)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield chromium
        chromium.close()


def _token(people: Cli, role: str, scope: str, subject: str) -> str:
    out = people("token", "issue", "--role", role, "--scope", scope, "--subject", subject)
    return "".join(out.split())


def _sign_in(browser: Browser, url: str, token: str) -> Page:
    page = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900}).new_page()
    page.goto(url + "/")
    expect(page.locator("h1")).to_have_text("登录救助预警工作台")
    page.fill("textarea[name=token]", token)
    page.click("button[type=submit]")
    expect(page.locator(".counts-title")).to_have_text("未办结预警")
    expect(page.locator("#live")).to_have_attribute("data-state", "on")
    return page


def _get(url: str, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _shot(page: Page, folder: Path, name: str) -> Path:
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / name)
    return path


def test_a_caseworker_works_an_alert_end_to_end_in_the_browser(
    people: Cli, worker: Worker, web_url: str, browser: Browser, tmp_path: Path
) -> None:
    worker.start()
    people("roster", "load", str(SAMPLES / "roster.csv"))
    mine = _token(people, "caseworker", CASEWORKER, CASEWORKER)
    theirs = _token(people, "caseworker", OTHER, OTHER)
    auditor = _token(people, "auditor", "*", "aud-001")

    page = _sign_in(browser, web_url, mine)
    other = _sign_in(browser, web_url, theirs)
    expect(page.locator("#rows tr")).to_have_count(0)
    page.evaluate("window.__noReload = true")  # gone if the page were reloaded

    started = time.monotonic()
    people("ingest", "prison", str(SAMPLES / "prison.csv"))
    row = page.locator("#rows tr.alert", has_text="服刑保")
    expect(row).to_be_visible(timeout=60_000)
    seen, seen_at = time.monotonic() - started, dt.datetime.now(dt.UTC)
    assert page.evaluate("window.__noReload") is True
    expect(row.locator(".newtag")).to_be_visible()
    expect(row).to_contain_text("210104********0776")  # masked in the list
    expect(row).not_to_contain_text(PERSON)
    expect(row).to_contain_text("紧急")
    expect(page.locator('[data-count="critical"] [data-f="count"]')).to_have_text("1")
    expect(page.locator("#total")).to_have_text("共 1 条")
    alert = next(a for a in stored_alerts(people.env) if a.type == "INCARCERATED_BENEFICIARY")
    written = (seen_at - alert.detected_at).total_seconds()
    print(  # reported, not asserted: timings depend on the machine
        f"\nthe alert appeared in the open list without reload {seen:.2f} s after the ingest "
        f"command started, {written:.2f} s after the worker wrote it"
    )
    assert row.get_attribute("data-id") == alert.alert_id
    _shot(page, tmp_path, "inbox-list.png")

    # the detail, opened in a second tab while the list stays open: the whole record, the
    # evidence with its department, the actions
    with page.context.expect_page() as opened:
        row.locator("a.type").click(modifiers=["Control"])
    detail = opened.value
    expect(detail.locator("h1")).to_have_text("服刑保")
    expect(detail.locator(".facts")).to_contain_text(PERSON)
    expect(detail.locator(".facts")).to_contain_text(NAME)
    expect(detail.locator(".facts")).to_contain_text("暂停发放")  # the recommended action
    evidence = detail.locator("tr.evidence")
    expect(evidence).to_have_count(1)
    expect(evidence).to_contain_text("司法局 服刑人员")
    expect(evidence).to_contain_text(RECORD)
    expect(evidence).to_contain_text("2026-01-10")
    _shot(detail, tmp_path, "inbox-detail.png")

    detail.click("form[data-action=dismiss] button")  # without the note it needs
    expect(detail.locator("#action-result")).to_have_text("请填写说明。")
    detail.click("form[data-action=ack] button")
    expect(detail.locator(".head .status")).to_have_text("已接收", timeout=30_000)
    status = row.locator('[data-f="status_word"]')
    expect(status).to_have_text("已接收")  # the open list follows, in place
    detail.select_option("form[data-action=resolve] select[name=resolution]", "confirmed_suspended")
    detail.fill("form[data-action=resolve] textarea[name=note]", NOTE)
    detail.click("form[data-action=resolve] button")
    expect(detail.locator(".head .status")).to_have_text("已办结", timeout=30_000)
    history = detail.locator("table.history")
    expect(history).to_contain_text("确认接收")
    expect(history).to_contain_text(f"情况属实，已暂停发放：{NOTE}")
    expect(history).to_contain_text(f"{CASEWORKER}（经办人）")
    _shot(detail, tmp_path, "inbox-detail-resolved.png")
    expect(status).to_have_text("已办结")
    expect(page.locator('[data-count="critical"] [data-f="count"]')).to_have_text("0")
    assert page.evaluate("window.__noReload") is True
    _shot(page, tmp_path, "inbox-list-resolved.png")

    # the other caseworker, signed in all along, never saw it, and may not open it
    expect(other.locator("#rows tr")).to_have_count(0)
    _shot(other, tmp_path, "inbox-other-caseworker.png")
    other.goto(f"{web_url}/alerts/{alert.alert_id}")
    expect(other.locator(".notice")).to_have_text("没有找到该预警，或您无权查看。")
    assert NAME not in other.content()
    assert _get(f"{web_url}/api/alerts/{alert.alert_id}", theirs)[0] == 403

    # the auditor sees the trail: the caseworker's view, acknowledgement and resolution
    code, trail = _get(f"{web_url}/api/audit?target={alert.alert_id}&per_page=100", auditor)
    assert code == 200
    done = {(e["actor"], e["action"]) for e in trail["entries"]}
    assert {(CASEWORKER, "viewed"), (CASEWORKER, "acknowledged"), (CASEWORKER, "resolved")} <= done
    acted = {e["token_id"] for e in trail["entries"] if e["action"] in ("acknowledged", "resolved")}
    assert acted == {token_id_of(mine)}  # every entry names the token that acted
    assert not any(e["actor"] == OTHER and e["action"] == "viewed" for e in trail["entries"])
    reader = _sign_in(browser, web_url, auditor)
    reader.goto(f"{web_url}/alerts/{alert.alert_id}")
    expect(reader.locator("table.history")).to_contain_text(NOTE)
    expect(reader.locator("#actions")).to_contain_text("只读")
