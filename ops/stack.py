"""One private Backfill stack for the scripts under ops/ (ops/fuzz, ops/bench/api): a private redis-server
(ops/redis-private), the provider simulator (`backfill simulate --port 0`) and `backfill serve` on a free loopback
port with every provider URL pointed at the simulator, so nothing reaches a real network. Python standard library
only. `Stack.stop()` ends exactly the processes it started (by their pids), whatever happened before.

    stack = Stack(binary, work_dir, log_dir, api_token="t")
    try:
        stack.start(scenario=path)          # or scenario=None: the simulator's demo scenario
        stack.connect_sample_mailboxes(specs)
        ...
    finally:
        stack.stop()
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
GRAPH_CLIENT_ID = "backfill-graph-client"  # the simulator's default OAuth clients (Scenario.swift)
GOOGLE_CLIENT_ID = "backfill-google-client"


class Failure(Exception):
    pass


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what, condition, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except (OSError, http.client.HTTPException) as error:
            last = error
        time.sleep(interval)
    raise Failure(f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last})" if last else ""))


def call(method, url, body=None, headers=None, timeout=30):
    """One request on its own connection: (status, bytes)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        sent = dict(headers or {})
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=data, headers=sent)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


class Stack:
    def __init__(self, binary, work_dir, log_dir, api_token=None, workers=4, environment=None):
        self.binary = os.path.abspath(binary)
        self.environment = dict(environment or {})  # more BACKFILL_* settings for serve
        self.work = work_dir
        self.logs = log_dir
        self.api_token = api_token
        self.workers = workers
        self.processes = []
        self.redis_pid = None
        self.base = None
        self.sim = None
        os.makedirs(self.work, exist_ok=True)
        os.makedirs(self.logs, exist_ok=True)

    @property
    def auth(self):
        return {"Authorization": f"Bearer {self.api_token}"} if self.api_token else {}

    def start(self, scenario=None):
        self.start_redis()
        self.start_simulator(scenario)
        self.start_serve()

    def start_redis(self):
        # Read the one line only: the redis-server it starts keeps the pipe open.
        starter = subprocess.Popen([os.path.join(ROOT, "ops", "redis-private"), os.path.join(self.work, "redis")],
                                   stdout=subprocess.PIPE, text=True)
        line = starter.stdout.readline().split()
        starter.stdout.close()
        if starter.wait() != 0 or len(line) != 2:
            raise Failure("ops/redis-private could not start a redis-server")
        self.redis_port, self.redis_pid = int(line[0]), int(line[1])

    def start_simulator(self, scenario=None):
        log = open(os.path.join(self.logs, "simulator.log"), "wb")
        command = [self.binary, "simulate", "--port", "0"] + (["--scenario", scenario] if scenario else [])
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)
        self.processes.append(process)
        line = process.stdout.readline().decode()
        if "simulator listening on " not in line:
            raise Failure(f"the simulator did not start (see {log.name}): {line!r}")
        self.sim = line.split("simulator listening on ", 1)[1].strip().rstrip("/")
        threading.Thread(target=lambda: shutil.copyfileobj(process.stdout, log), daemon=True).start()

    def start_serve(self):
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        sim = self.sim
        flags = {
            "redis-url": f"redis://127.0.0.1:{self.redis_port}", "data-dir": os.path.join(self.work, "data"),
            "listen": f"127.0.0.1:{port}", "graph-url": f"{sim}/graph/v1.0", "ms-login-url": f"{sim}/login",
            "gmail-url": f"{sim}/gmail", "google-oauth-url": f"{sim}/google", "google-accounts-url": f"{sim}/google",
            "graph-client-id": GRAPH_CLIENT_ID, "graph-client-secret": "stack",
            "google-client-id": GOOGLE_CLIENT_ID, "google-client-secret": "stack", "workers": str(self.workers),
        }
        # Secrets through the environment (as in production), never on the command line.
        environment = {key: value for key, value in os.environ.items() if not key.startswith("BACKFILL_")}
        environment["BACKFILL_SECRET_KEY"] = "backfill-ops-stack-secret-key"
        if self.api_token:
            environment["BACKFILL_API_TOKEN"] = self.api_token
        environment.update(self.environment)
        self.serve_log = os.path.join(self.logs, "serve.log")
        self.serve = subprocess.Popen([self.binary, "serve"] + [f"--{key}={value}" for key, value in flags.items()],
                                      stdout=open(self.serve_log, "wb"), stderr=subprocess.STDOUT, env=environment)
        self.processes.append(self.serve)

        def ready():
            if self.serve.poll() is not None:
                raise Failure(f"backfill serve exited with {self.serve.returncode}; see {self.serve_log}")
            return call("GET", f"{self.base}/readyz")[0] == 200

        wait_until("backfill serve to be ready", ready, timeout=90)

    def api(self, method, path, body=None, expect=(200, 201)):
        status, payload = call(method, self.base + path, body, headers=self.auth)
        if status not in expect:
            raise Failure(f"{method} {path} answered {status}: {payload[:300].decode(errors='replace')}")
        return json.loads(payload) if payload else None

    def tokens(self, address):
        status, payload = call("POST", f"{self.sim}/_sim/tokens", {"mailbox": address})
        if status != 200:
            raise Failure(f"POST /_sim/tokens for {address} answered {status}")
        return json.loads(payload)

    def connect(self, provider, address, token_owner=None, parent_id=None):
        """Registers a mailbox through POST /v1/connections with tokens the simulator issued; returns its id."""
        tokens = self.tokens(token_owner or address)
        body = {"provider": provider, "address": address, "accessToken": tokens["accessToken"],
                "refreshToken": tokens["refreshToken"],
                "expiresAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + tokens.get("expiresIn", 3600)))}
        if parent_id:
            body["parentId"] = parent_id
        return self.api("POST", "/v1/connections", body)["id"]

    def stop(self):
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes = []
        if self.redis_pid:
            try:
                os.kill(self.redis_pid, signal.SIGTERM)
                wait_until("redis-server to stop", lambda: not os.path.exists(f"/proc/{self.redis_pid}"), timeout=10,
                           interval=0.05)
            except (ProcessLookupError, Failure):
                pass
            self.redis_pid = None
        shutil.rmtree(self.work, ignore_errors=True)
