#!/usr/bin/env python3
"""The console in a real browser: headless Chromium, driven over the DevTools protocol, against a running
`backfill demo` (its own ports and a fresh data directory).

Connects the Microsoft 365 sample mailbox through the simulator's consent page, sees the estimates fill in
beside each range (the 90-day one within 10% of what the backfill then pulls), picks 90 days, watches the
count rise, pauses (amber card, count stops), resumes and waits for "Sync complete". Each step leaves a
screenshot in OUTPUT_DIR. Usage: console_test.py BACKFILL_BINARY OUTPUT_DIR
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from cdp import DevTools

ADDRESS = "alex@contoso.example"  # the scenario's personal Microsoft 365 mailbox (8,500 messages)
RANGES = ["30d", "90d", "12m", "all"]


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method, url, body=None):
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def wait_until(what, condition, timeout=30.0, interval=0.1):
    """Polls `condition` until it returns a truthy value, which is returned; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (OSError, RuntimeError) as error:  # not up yet, or the page is navigating
            last_error = error
        time.sleep(interval)
    raise Failure(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else ""))


class ConsoleTest:
    def __init__(self, binary, output):
        self.binary = binary
        self.output = output
        self.work = tempfile.mkdtemp(prefix="backfill-browser-")
        self.port = free_port()
        self.sim_port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.sim = f"http://127.0.0.1:{self.sim_port}"
        self.demo = None
        self.browser = None
        self.page = None
        self.shots = 0

    # ---- processes ----

    def start_demo(self):
        log = open(os.path.join(self.output, "demo.log"), "wb")
        self.demo = subprocess.Popen(
            [self.binary, "demo", "--listen", f"127.0.0.1:{self.port}", "--simulator-port", str(self.sim_port),
             "--data-dir", os.path.join(self.work, "data")],
            stdout=log, stderr=subprocess.STDOUT)

        def ready():
            if self.demo.poll() is not None:
                raise Failure(f"backfill demo exited with {self.demo.returncode}; see demo.log")
            status, body = http("GET", f"{self.base}/v1/connections")
            return status == 200 and len(json.loads(body)["connections"]) == 3

        wait_until("the demo to serve its three sample mailboxes", ready, timeout=60)

    def start_browser(self):
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not chromium:
            raise Failure("chromium is not installed (ops/setup chromium installs it)")
        profile = os.path.join(self.work, "chromium")
        self.browser = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
             "--remote-debugging-port=0", f"--user-data-dir={profile}", "--window-size=1200,900", "about:blank"],
            stdout=open(os.path.join(self.output, "chromium.log"), "wb"), stderr=subprocess.STDOUT)
        # Chromium writes the port it picked into the profile directory.
        active = os.path.join(profile, "DevToolsActivePort")
        port = wait_until("Chromium's DevTools port", lambda: open(active).read().split("\n")[0].strip(), timeout=30)
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        page = next(t for t in targets if t["type"] == "page")
        self.page = DevTools(page["webSocketDebuggerUrl"])
        self.page.call("Page.enable")
        self.page.call("Runtime.enable")

    def stop(self):
        if self.page:
            self.page.close()
        for process in (self.browser, self.demo):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)  # the demo stops its private redis-server on SIGTERM
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.work, ignore_errors=True)

    # ---- the page ----

    def js(self, expression):
        return self.page.evaluate(expression)

    def shot(self, name):
        self.shots += 1
        path = os.path.join(self.output, f"{self.shots:02d}-{name}.png")
        self.page.screenshot(path)
        print(f"  screenshot {os.path.basename(path)}")

    def click(self, selector):
        if not self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return false; e.click(); return true; }})()"):
            raise Failure(f"nothing to click at {selector}")

    def card(self, part):
        """Text of a part of the mailbox's card (e.g. state-label), or None."""
        return self.js(f"document.querySelector('[data-testid=\"card-{self.id}\"] [data-testid=\"{part}\"]')?.textContent ?? null")

    def count(self):
        text = self.card("progress-count") or ""
        digits = text.split(" ")[0].replace(",", "")
        return int(digits) if digits.isdigit() else 0

    # ---- the story ----

    def run(self):
        self.start_demo()
        self.start_browser()
        self.page.call("Page.navigate", url=self.base + "/")
        self.id = wait_until(f"the card of {ADDRESS}", lambda: self.js(
            f"[...document.querySelectorAll('li.card')].find(c => c.querySelector('[data-testid=\"address\"]')"
            f"?.textContent === {json.dumps(ADDRESS)})?.dataset.testid.slice(5)"))
        self.shot("console")

        # Connect Microsoft 365: the service redirects to the simulator's consent page.
        self.click('[data-testid="connect-graph"]')
        wait_until("the consent page", lambda: self.js("location.href").startswith(self.sim)
                   and "Allow" in (self.js("document.body?.innerText") or ""))
        self.shot("consent-page")
        self.click(f'form:has(input[name="account"][value="{ADDRESS}"]) button[type="submit"]')

        # Back on the console with the range picker open for the reconnected mailbox (same id).
        wait_until("the range picker", lambda: self.js("location.href").startswith(self.base)
                   and self.js("document.getElementById('range-dialog')?.open === true"))
        if self.js("location.search"):
            raise Failure("the ?connected= parameter stayed in the address bar")
        if not self.js(f"!!document.querySelector('[data-testid=\"card-{self.id}\"]')"):
            raise Failure("reconnecting did not keep the card's connection id")
        self.click('[data-testid="range-90d"]')
        if not self.js("document.querySelector('[data-testid=\"range-90d\"]').checked"):
            raise Failure("90 days is not selected")
        # The estimates fill in beside each range once they arrive: "≈ 3,200 messages · about 2 minutes".
        estimates = wait_until("the estimates beside each range", lambda: (lambda texts: texts if all(texts) else None)(
            [self.js(f"document.querySelector('[data-testid=\"estimate-{r}\"]').textContent") for r in RANGES]), timeout=15)
        print("  estimates: " + "; ".join(f"{r} {text}" for r, text in zip(RANGES, estimates)))
        counts = []
        for r, text in zip(RANGES, estimates):
            match = re.fullmatch(r"≈ ([\d,]+) messages · (under a minute|about \d+ (minute|hour|day)s?)", text)
            if not match:
                raise Failure(f"the {r} estimate reads '{text}'")
            counts.append(int(match.group(1).replace(",", "")))
        if counts != sorted(counts) or counts[0] == 0:
            raise Failure(f"the estimates do not grow with the range: {counts}")
        self.estimate_90d = counts[1]
        self.shot("range-picker-90d")

        # Slow the simulator so that there is time to pause mid-way (the demo's latency makes it seconds): slower
        # requests, and pages of 100 (Graph serves up to 1,000, which takes the demo mailbox in two pages).
        http("PATCH", f"{self.sim}/_sim/knobs", {"latencyMs": 500, "latencyJitterMs": 0, "graphMaxPageSize": 100})
        self.click('[data-testid="range-confirm"]')
        first = wait_until("the count to rise", lambda: self.count() > 0, timeout=30) and self.count()
        rising = wait_until("the count to rise further", lambda: self.count() > first and self.count(), timeout=30)
        print(f"  count rose: {first} → {rising} ({self.card('state-label')})")
        if self.card("state-label") != "Syncing last 90 days":
            raise Failure(f"the running card says '{self.card('state-label')}', not 'Syncing last 90 days'")
        self.shot("running")

        self.click(f'[data-testid="card-{self.id}"] [data-testid="pause"]')
        # "Pausing…" while the page in flight lands (seen unless that page landed before the card's refresh), then
        # "Paused — N messages so far".
        first_label = wait_until("the pausing or paused label", lambda: (lambda text: text if text.startswith("Paus") else None)(
            self.card("state-label") or ""), timeout=15, interval=0.02)
        if first_label == "Pausing…":
            self.shot("pausing")
        wait_until("the paused label", lambda: (self.card("state-label") or "").startswith("Paused"), timeout=15)
        print(f"  pause: '{first_label}' first")
        classes = self.js(f"document.querySelector('[data-testid=\"card-{self.id}\"]').className")
        tone = self.js(f"getComputedStyle(document.querySelector('[data-testid=\"card-{self.id}\"]')).getPropertyValue('--tone').trim()")
        if "tone-paused" not in classes or tone.lower() != "#e0a030":
            raise Failure(f"the paused card is not amber (class '{classes}', --tone '{tone}')")
        # Pause stops at the end of the page in flight: let that page land, then the count must hold still
        # while the server says paused and agrees with the card.
        at_click = self.count()
        settled = {"count": self.count(), "since": time.monotonic()}

        def steady():
            now = self.count()
            if now != settled["count"]:
                settled.update(count=now, since=time.monotonic())
            return time.monotonic() - settled["since"] >= 1.0

        wait_until("the page in flight to land", steady, timeout=15)
        paused = self.count()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if self.count() != paused:
                raise Failure(f"the count moved while paused: {paused} → {self.count()}")
            time.sleep(0.1)
        status, body = http("GET", f"{self.base}/v1/connections/{self.id}")
        server = json.loads(body)["backfill"]
        if server["state"] != "paused" or server["pulled"] != paused:
            raise Failure(f"the server says {server['state']} with {server['pulled']} pulled; the card shows {paused}")
        print(f"  paused at {paused} ({paused - at_click} from the page in flight; amber {tone}); held for 2 s")
        self.shot("paused")

        http("PATCH", f"{self.sim}/_sim/knobs", {"latencyMs": 20})
        self.click(f'[data-testid="card-{self.id}"] [data-testid="resume"]')
        wait_until("the count to move on after resume", lambda: self.count() > paused, timeout=30)
        self.shot("resumed")
        label = wait_until('"Sync complete"', lambda: (lambda text: text if text.startswith("Sync complete") else None)(
            self.card("state-label") or ""), timeout=90, interval=0.05)
        status, body = http("GET", f"{self.base}/v1/connections/{self.id}")
        server = json.loads(body)["backfill"]
        expected = f"Sync complete — {server['pulled']:,} messages from last 90 days"
        if server["state"] != "completed" or label != expected:
            raise Failure(f"label '{label}', server state {server['state']} with {server['pulled']} pulled")
        print(f"  {label}")
        if abs(self.estimate_90d - server["pulled"]) * 10 > server["pulled"]:
            raise Failure(f"the picker estimated {self.estimate_90d} messages for 90 days; the backfill pulled {server['pulled']}")
        print(f"  the picker's estimate {self.estimate_90d:,} against {server['pulled']:,} pulled")
        # The bar slides to full width (a CSS transition); the screenshot shows it once there.
        wait_until("the full progress bar", lambda: self.js(
            f"(() => {{ const bar = document.querySelector('[data-testid=\"card-{self.id}\"] [data-testid=\"progress-bar\"]');"
            " return bar.firstElementChild.getBoundingClientRect().width >= bar.getBoundingClientRect().width - 1; })()"),
            timeout=5, interval=0.05)
        self.shot("sync-complete")

        # Real time's passing trouble, as the API shows it from the third failed catch-up in a row: the card's own
        # words for that view, drawn by the console's code on this page (waiting out real failures takes the demo's
        # backoffs, about half a minute).
        failing = {"failures": 3, "code": "transient", "message": "temporary provider failure (graph GET messages/delta: 503)",
                   "nextTryAt": "2030-01-01T12:00:40Z"}
        card = self.js(f"(() => {{ const c = connections.get({json.dumps(self.id)}); const v = view({{...c, realtime: "
                       f"{{...c.realtime, failing: {json.dumps(failing)}}}}}); return [v.tone, v.label, v.detail]; }})()")
        if card[:2] != ["wait", "New mail delayed — retrying by itself"] or failing["message"] not in card[2] \
                or "3 checks in a row failed" not in card[2]:
            raise Failure(f"a delayed mailbox's card reads {card}")
        print(f"  delayed real time: {card[1]} ({card[2]})")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: console_test.py BACKFILL_BINARY OUTPUT_DIR")
    binary, output = sys.argv[1], sys.argv[2]
    os.makedirs(output, exist_ok=True)
    test = ConsoleTest(binary, output)
    try:
        test.run()
    except Failure as failure:
        try:
            test.shot("failure")
        except Exception:  # the browser may be what failed
            pass
        print(f"browser test FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    finally:
        test.stop()
    print("browser test passed: connect, estimates in the picker, pick 90 days, count rises, pause (amber, count holds), resume, Sync complete, "
          "a delayed mailbox's words")


if __name__ == "__main__":
    main()
