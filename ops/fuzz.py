#!/usr/bin/env python3
"""The fuzzing gate's driver (ops/fuzz sets up Schemathesis and calls this with the standard library's python3).

Starts a private stack (ops/stack.py: redis-server, `backfill simulate` with three small mailboxes, `backfill
serve` with an API token on a free loopback port), registers the mailboxes through the API and backfills two of
them, then runs Schemathesis against the service's own /openapi.json: every check, a fixed seed, a bounded
number of examples per operation, half of the connection ids real (fuzz_hooks.py). Fails on any server error
(5xx), a crash or exit of the service, or a response that breaks the document. Prints the figures; everything
it started is stopped however it ends.

Usage: ops/fuzz.py --binary PATH --schemathesis PATH --output DIR [--seed N] [--max-examples N] [--spec FILE]
(--spec: fuzz with a local copy of the document instead of the one the binary serves, to try a change to it
without rebuilding.)
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ left in ops/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Failure, Stack, call, wait_until  # noqa: E402

API_TOKEN = "fuzz-api-token-0123456789abcdef0123456789"  # 32+ characters, as a production token must be
SCENARIO = {
    "seed": 12,
    "mailboxes": [
        {"provider": "graph", "address": "fuzz.owner@contoso.example", "messageCount": 120,
         "spread": {"days": 400, "recentDays": 30, "recentShare": 0.4}},
        {"provider": "graph", "address": "fuzz.shared@contoso.example", "kind": "shared",
         "owner": "fuzz.owner@contoso.example", "messageCount": 40, "spread": {"days": 200, "recentDays": 30, "recentShare": 0.5}},
        {"provider": "gmail", "address": "fuzz.gmail@example.net", "messageCount": 80,
         "spread": {"days": 300, "recentDays": 30, "recentShare": 0.4}},
    ],
    "knobs": {"latencyMs": 0, "latencyJitterMs": 2},
}
PUSH_TOKEN = "fuzz-gmail-push-token-0123456789abcdef01234"  # BACKFILL_GMAIL_PUSH_TOKEN: pushes with ?token= pass
SERVER_ERROR_CHECKS = {"not_a_server_error"}
# Every check runs but these two, which test conventions the API deliberately does not follow (both written
# down in the document): DELETE /v1/connections/{id} disconnects and keeps the connection readable, so a GET
# after it answers 200, not 404 (use_after_free); methods a path does not have get the router's 404, not 405
# (unsupported_method).
EXCLUDED_CHECKS = ["use_after_free", "unsupported_method"]
# Schemathesis settings the command line has no flag for. The event stream never ends by itself, so it is
# read up to its first event (sent at once) instead of up to 20 events (heartbeats come every 15 s).
# Stateful runs follow the document's own links (from each Connection to the calls on its id), not links guessed
# from field names (a guess feeds connection ids into parentId, where most are refused by design). The OAuth
# callback's state is single-use and only /oauth/{provider}/start makes one, so a generated one is always refused.
CONFIG = """
[phases.stateful.inference]
algorithms = []

[[operations]]
include-operation-id = "connectionEvents"
max-stream-events = 1

[[operations]]
include-operation-id = "oauthCallback"
checks.positive_data_acceptance.expected-statuses = ["2xx", "3xx", "400", "404"]
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--schemathesis", required=True, help="the schemathesis executable (in the gate's venv)")
    parser.add_argument("--output", required=True, help="logs and reports go here")
    parser.add_argument("--seed", type=int, default=20251202)
    parser.add_argument("--max-examples", type=int, default=100, help="test cases per operation and phase")
    parser.add_argument("--workers", default="2")
    parser.add_argument("--spec", help="a local OpenAPI file to fuzz with instead of the served /openapi.json")
    options = parser.parse_args()
    options.output = os.path.abspath(options.output)
    os.makedirs(options.output, exist_ok=True)
    stack = Stack(options.binary, tempfile.mkdtemp(prefix="backfill-fuzz-"), options.output, api_token=API_TOKEN, workers=2,
                  environment={"BACKFILL_GMAIL_PUSH_TOKEN": PUSH_TOKEN})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that `finally` stops what the gate started
    started = time.monotonic()
    try:
        sys.exit(run(stack, options, started))
    except Failure as failure:
        print(f"ops/fuzz: FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
    finally:
        stack.stop()


def prepare(stack, output):
    path = os.path.join(output, "scenario.json")
    with open(path, "w") as file:
        json.dump(SCENARIO, file)
    stack.start(scenario=path)
    owner = stack.connect("graph", "fuzz.owner@contoso.example")
    shared = stack.connect("graph", "fuzz.shared@contoso.example", token_owner="fuzz.owner@contoso.example", parent_id=owner)
    gmail = stack.connect("gmail", "fuzz.gmail@example.net")
    for id in (owner, gmail):
        stack.api("POST", f"/v1/connections/{id}/backfill", {"range": "all"})

    def done():
        states = [(stack.api("GET", f"/v1/connections/{id}")["backfill"] or {}).get("state") for id in (owner, gmail)]
        return all(state == "completed" for state in states)

    wait_until("the two sample backfills to complete", done, timeout=120, interval=0.5)
    # Real cursors for the hooks: a few `next`s of message pages, and of connection pages where the binary pages.
    message_cursors, after = [], None
    while len(message_cursors) < 4:
        page = stack.api("GET", f"/v1/connections/{owner}/messages?limit=7" + (f"&after={after}" if after else ""))
        if not page["next"]:
            break
        message_cursors.append(after := page["next"])
    page = stack.api("GET", "/v1/connections?limit=1")
    connection_cursors = [page["next"]] if page.get("next") else []
    return {"BACKFILL_FUZZ_IDS": ",".join([owner, shared, gmail]),
            "BACKFILL_FUZZ_MESSAGE_CURSORS": ",".join(message_cursors),
            "BACKFILL_FUZZ_CONNECTION_CURSORS": ",".join(connection_cursors),
            "BACKFILL_FUZZ_PUSH_TOKEN": PUSH_TOKEN, "BACKFILL_FUZZ_GMAIL_ADDRESSES": "fuzz.gmail@example.net"}


def run(stack, options, started):
    hooks = prepare(stack, options.output)
    print(f"ops/fuzz: service at {stack.base} (API token set), 3 mailboxes connected, two backfilled "
          f"({time.monotonic() - started:.0f} s)", flush=True)
    config = os.path.join(options.output, "schemathesis.toml")
    with open(config, "w") as file:
        file.write(CONFIG)
    report = os.path.join(options.output, "schemathesis.json")
    if os.path.exists(report):
        os.remove(report)
    location = os.path.abspath(options.spec) if options.spec else f"{stack.base}/openapi.json"
    command = [
        options.schemathesis, "--config-file", config, "run", location, "--url", stack.base,
        "--checks", "all", "--exclude-checks", ",".join(EXCLUDED_CHECKS), "--seed", str(options.seed), "--max-examples", str(options.max_examples),
        "--workers", str(options.workers), "--header", f"Authorization: Bearer {API_TOKEN}",
        "--request-timeout", "20", "--generation-database", "none", "--suppress-health-check", "all",
        "--no-color", "--report", "json,junit", "--report-dir", options.output,
        "--report-json-path", report, "--report-junit-path", os.path.join(options.output, "junit.xml"),
    ]
    environment = dict(os.environ, SCHEMATHESIS_HOOKS="fuzz_hooks", PYTHONPATH=os.path.dirname(os.path.abspath(__file__)),
                       PYTHONDONTWRITEBYTECODE="1",
                       **hooks)
    log_path = os.path.join(options.output, "schemathesis.log")
    fuzz_started = time.monotonic()
    with open(log_path, "w") as log:
        # Run inside the output directory: Schemathesis keeps a `.schemathesis/` cache in its working directory.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
                                   cwd=options.output)
        try:
            for line in process.stdout:
                log.write(line)
            exit_code = process.wait()
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait()
    elapsed = time.monotonic() - fuzz_started

    alive = stack.serve.poll() is None
    served_5xx = 0
    if alive:
        # What the requests reached, by route and status (the service's own counter), for the log and the summary.
        _, metrics = call("GET", f"{stack.base}/metrics")
        counts = {}
        for route, status, value in re.findall(r'^backfill_http_requests_total\{route="([^"]*)",status="(\d+)"\} (\S+)$',
                                             metrics.decode(errors="replace"), re.M):
            counts[(route, status)] = counts.get((route, status), 0) + int(float(value))
        with open(os.path.join(options.output, "statuses.txt"), "w") as file:
            for (route, status), count in sorted(counts.items()):
                file.write(f"{count:>7} {status} {route}\n")
        by_class = {}
        for (_, status), count in counts.items():
            by_class[status[0] + "xx"] = by_class.get(status[0] + "xx", 0) + count
        served_5xx = by_class.get("5xx", 0)
        print("ops/fuzz: the service answered " + ", ".join(f"{count:,} × {name}" for name, count in sorted(by_class.items()))
              + " (by route in statuses.txt)")
    internal = sum(1 for line in open(stack.serve_log, errors="replace") if "request failed" in line)
    summary = json.load(open(report)) if os.path.exists(report) else None
    if summary is None:
        print(open(log_path).read()[-4000:])
        raise Failure(f"schemathesis wrote no report (exit {exit_code}); see {log_path}")
    failures = summary.get("failures", [])
    server_errors = sum(group["count"] for group in failures if group["code"] in SERVER_ERROR_CHECKS)
    violations = sum(group["count"] for group in failures if group["code"] not in SERVER_ERROR_CHECKS)
    errors = sum(group["count"] for group in summary.get("errors", []))
    cases = summary["test_cases"]["generated"]
    operations = summary.get("operations") or {}
    print(f"ops/fuzz: {cases:,} test cases over {operations.get('tested', 0)} operations in {elapsed:.0f} s "
          f"(seed {options.seed}, up to {options.max_examples} examples per operation and phase)")
    print(f"ops/fuzz: server errors: {server_errors} (the service counted {served_5xx} 5xx answers and logged {internal} "
          f"internal errors); "
          f"spec violations: {violations}; errors running tests: {errors}; service "
          f"{'still running' if alive else f'EXITED with {stack.serve.returncode}'}")
    for group in failures:
        print(f"  {group['count']:>4} × {group['title']} [{group['code']}] in {', '.join(group['operations'][:6])}")
    for group in summary.get("errors", []):
        print(f"  {group['count']:>4} × error: {group['title']}")
    if failures or errors or not alive or internal or served_5xx or exit_code != 0:
        print(f"ops/fuzz: FAILED; details in {log_path} (each failure with a curl line to reproduce it), "
              f"the service's log in {stack.serve_log}", file=sys.stderr)
        return 1
    print("ops/fuzz: passed")
    return 0


if __name__ == "__main__":
    main()
