#!/usr/bin/env python3
"""The demo's hall agent (远程帮办): a headless Chromium on the console's /assist page.

`scripts/demo` starts it beside a headless demo terminal: it logs in with the stack's
agent account, goes on duty, answers the first call, waits for the citizen's masked screen
at the step named by --step, proposes a value (a form field, or an option), waits for the
citizen's 确认 and ends the call as resolved. Screenshots of the agent's page go to --out;
a summary (what happened, no personal data) to OUT/agent.json. Chromium's fake camera and
microphone stand in for the agent's own (no real devices needed).

    scripts/demo_agent.py --console URL --user NAME --password-file F --out DIR
        [--step period] [--fill months=12 | --choose VALUE] [--timeout 240]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any


def driver(width: int = 1400, height: int = 1000) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium:
        opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required", "--lang=zh-CN",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    service = Service(shutil.which("chromedriver") or "chromedriver")
    return webdriver.Chrome(options=opts, service=service)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.wait import WebDriverWait

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    password = Path(args.password_file).read_text(encoding="utf-8").strip()
    summary: dict[str, Any] = {"answered": False, "proposal": "", "ended": False}
    d = driver()
    started = time.monotonic()
    try:
        wait = WebDriverWait(d, 30)
        d.get(args.console.rstrip("/") + "/assist")
        wait.until(ec.presence_of_element_located((By.ID, "login-submit")))
        d.find_element(By.ID, "name").send_keys(args.user)
        d.find_element(By.ID, "password").send_keys(password)
        d.find_element(By.ID, "login-submit").click()
        wait.until(lambda x: x.find_element(By.ID, "socket-state").get_attribute(
            "data-state") == "open")
        wait.until(ec.element_to_be_clickable((By.ID, "on-duty"))).click()
        wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'#agents .agent.available[data-login="{args.user}"]')))
        print("agent: on duty", flush=True)
        long = WebDriverWait(d, args.timeout)
        answer = long.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#queue button.answer")))
        d.save_screenshot(str(out / "agent-1-queue.png"))
        answer.click()
        wait.until(lambda x: x.execute_script(
            "return document.getElementById('remote-video').videoWidth") > 0)
        summary["answered"] = True
        summary["media_s"] = round(time.monotonic() - started, 1)
        print("agent: answered, the citizen's picture plays", flush=True)
        # the citizen's screen at the step where help was asked
        long.until(lambda x: x.find_element(By.ID, "mirror").get_attribute("src")
                   and _step(x) == args.step)
        time.sleep(1.0)  # the picture of the mirror settles (one more screen message)
        d.save_screenshot(str(out / "agent-2-masked-screen.png"))
        if args.choose:
            wait.until(ec.element_to_be_clickable(
                (By.CSS_SELECTOR, f'#options button[data-value="{args.choose}"]'))).click()
        else:
            name, _, value = args.fill.partition("=")
            box = wait.until(ec.element_to_be_clickable((By.ID, f"field-{name}")))
            box.clear()
            box.send_keys(value)
            d.find_element(By.CSS_SELECTOR, f'button.propose[data-field="{name}"]').click()
        long.until(lambda x: x.find_element(By.ID, "proposal").get_attribute("data-result")
                   not in ("", None, "pending"))
        summary["proposal"] = d.find_element(By.ID, "proposal").get_attribute("data-result")
        d.save_screenshot(str(out / "agent-3-proposal.png"))
        print(f"agent: the citizen's answer to the proposal: {summary['proposal']}", flush=True)
        wait.until(ec.element_to_be_clickable((By.ID, "end-resolved"))).click()
        wait.until(lambda x: x.find_element(By.ID, "call").get_attribute("hidden") is not None)
        summary["ended"] = True
        d.get(args.console.rstrip("/") + "/assist/calls")
        d.save_screenshot(str(out / "agent-4-records.png"))
        print("agent: call ended (resolved)", flush=True)
    except (WebDriverException, OSError) as exc:  # the demo goes on; the summary says
        first = str(exc).strip().splitlines()  # where the agent stopped
        summary["error"] = f"{type(exc).__name__}: {first[0] if first else ''}"
        with contextlib.suppress(WebDriverException):
            d.save_screenshot(str(out / "agent-stopped.png"))
    finally:
        d.quit()
    (out / "agent.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


def _step(d: Any) -> str:
    """The step the citizen's screen is at (the mirror's screen message), "" if none."""
    value = d.execute_script(
        "const e = document.getElementById('step-title'); return e ? e.dataset.step || '' : ''")
    return str(value or "")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--console", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--step", default="period")
    p.add_argument("--fill", default="months=12")
    p.add_argument("--choose", default="")
    p.add_argument("--timeout", type=float, default=240.0)
    summary = run(p.parse_args())
    return 0 if summary.get("ended") and summary.get("proposal") == "confirmed" else 1


if __name__ == "__main__":
    sys.exit(main())
