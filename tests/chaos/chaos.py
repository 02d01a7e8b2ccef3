#!/usr/bin/python3
"""Puente's chaos suite: the real processes, broken mid-stream, then counted.

It runs the built `puente serve` binary against a private PostgreSQL cluster and the local
Docker engine with the WAHA emulator image, signs up an agency admin and three agents through
the API, links each agent's number by scanning through the emulator's simulated phone, and then
breaks things while messages flow:

  1. the phone floods inbound messages, and the agent replies, while Puente is SIGKILLed (just
     after it accepted a reply) and restarted mid-flood;
  2. Puente stays down past WAHA's webhook retry window while the phone writes (this link's
     container retries twice, a second apart); after the restart the catch-up recovers it all;
  3. a session container is paused (`docker pause`) while the agent sends replies;
  4. PostgreSQL restarts (the cluster is stopped and started) during a flood of inbound
     messages and agent sends, and stays away until scenario 2's container has given up on the
     webhooks of what its phone wrote meanwhile (only the catch-up can bring those in);
  5. a container answers nothing for a while (its process frozen with SIGSTOP, then SIGCONT)
     while its agent and a second agent on a healthy link send: the healthy link keeps flowing.

Each scenario ends by counting, with SQL and with the emulator's own record of what was sent
through its API (`/__emulator/sessions/default/sent`): every message stored exactly once and
sent exactly once, nothing lost, nothing doubled, and the API answering throughout wherever it
can (a background prober asks /healthz and DB-backed endpoints twice a second; only the
moments Puente itself is down, or the database for DB-backed calls, are excused). Waits have
generous deadlines and, when one runs out, say what was missing; nothing is timed.

scripts/test-chaos is the driver (cluster, image, binary, clean-up). By hand:

  chaos.py --bin target/debug/puente --pg-data DIR --pg-port N --instance NAME --work DIR \
           --api-port N --webhook-port N [--only 1,3] [--flood 300] [--replies 20] …

(the cluster at DIR/PORT must be running, with a database `puente_chaos`, `--db` to change).

Python 3 standard library only. Exits non-zero when a scenario fails that is not listed in
EXPECTED_FAILURES.
"""

import argparse
import collections
import http.client
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request

# Scenarios that fail today because of a Puente bug not fixed yet: number → the reason (the
# bug, with where the evidence shows). A listed scenario that fails is reported as XFAIL and does
# not fail the suite; one that passes is reported as XPASS — then remove it from here.
EXPECTED_FAILURES = {
}

PASSWORD = "chaos suite passphrase"
# Fast emulator timings (as tests/api/helpers.rs's fleet_config); WAHA's default webhook
# retries (15 × 2 s) stay, except on the link of scenario 2.
EMULATOR_ENV = [
    "EMULATOR_STARTING_MS=300",
    "EMULATOR_WAIT_RUNNING_MS=1000",
    "EMULATOR_WAIT_STATUS_MS=1000",
    "EMULATOR_ACK_SERVER_MS=100",
    "EMULATOR_ACK_DEVICE_MS=200",
    "EMULATOR_ACK_READ_MS=300",
    "EMULATOR_STOP_MS=300",
    "EMULATOR_LOGOUT_MS=300",
]
SHORT_RETRIES = {"WHATSAPP_HOOK_RETRIES_ATTEMPTS": 2, "WHATSAPP_HOOK_RETRIES_DELAY_SECONDS": 1}
SENT_STATUSES = ("sent", "delivered", "read")
# The webhook event every inbound message comes in as, whichever events Puente subscribes to
# (`message.any` alone, or `message` as well before): what "WAHA gave up on it" is counted by.
INBOUND_EVENT = "message.any"

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def say(msg=""):
    print(msg, flush=True)


def step(msg):
    say(f"  - {msg}")


class Failure(Exception):
    """A scenario's finding: something lost, doubled, refused or never reached."""


def request(method, url, body=None, headers=None, timeout=15):
    """(status, JSON body or text). Status 0 and the reason when nothing answered."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        return 0, f"{type(e).__name__}: {getattr(e, 'reason', e)}"
    text = raw.decode(errors="replace")
    try:
        return status, (json.loads(text) if text else None)
    except ValueError:
        return status, text


def wait_for(what, check, deadline, interval=1.0):
    """Poll `check()` → (done, detail) until done; past `deadline` seconds, fail with the detail."""
    end = time.monotonic() + deadline
    detail = ""
    while True:
        done, detail = check()
        if done:
            return detail
        if time.monotonic() > end:
            raise Failure(f"{what}: not reached within {deadline:.0f}s — {detail}")
        time.sleep(interval)


def docker(*args, check=True, timeout=120):
    out = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {out.stderr.strip()}")
    return out.stdout.strip()


def brief(items, n=8):
    items = sorted(items)
    more = f" … and {len(items) - n} more" if len(items) > n else ""
    return ", ".join(str(i) for i in items[:n]) + more


# --- the processes -------------------------------------------------------------------------


class Postgres:
    """The private cluster scripts/test-chaos started, stopped and started through lib.sh."""

    def __init__(self, lib, data, port, db):
        self.lib, self.data, self.port, self.db = lib, data, port, db

    def url(self):
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.db}"

    def _lib(self, script, *args):
        env = dict(os.environ, PUENTE_PG_FSYNC=os.environ.get("PUENTE_PG_FSYNC", "off"))
        out = subprocess.run(["bash", "-c", f'source "$0"; {script}', self.lib, *args],
                             capture_output=True, text=True, env=env, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{script}: {out.stderr.strip()[-500:]}")

    def stop(self):
        self._lib('stop_postgres "$1"', self.data)

    def start(self):
        self._lib('ensure_postgres "$1" "$2"', self.data, str(self.port))

    def query(self, sql, deadline=60):
        """Rows of `sql` as dicts (through psql and json_agg); retried while the server is away."""
        wrapped = f"select coalesce(json_agg(t), '[]'::json) from ({sql}) t"
        end = time.monotonic() + deadline
        while True:
            out = subprocess.run(
                ["psql", "-X", "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                 "-p", str(self.port), "-U", "postgres", "-d", self.db, "-c", wrapped],
                capture_output=True, text=True, timeout=60,
                env=dict(os.environ, PGCONNECT_TIMEOUT="10"))
            if out.returncode == 0:
                return json.loads(out.stdout)
            if time.monotonic() > end:
                raise RuntimeError(f"psql: {out.stderr.strip()}")
            time.sleep(1)


class Puente:
    """`puente serve` as a child process in its own session, started and killed at will."""

    def __init__(self, binary, env, api_port, work):
        self.binary, self.env, self.work = binary, env, work
        self.base = f"http://127.0.0.1:{api_port}"
        self.proc = None
        self.starts = 0
        self.log_path = None

    def start(self, extra_env=None):
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.log_path = os.path.join(self.work, f"puente-{self.starts}.log")
        env = dict(self.env, **(extra_env or {}))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([self.binary, "serve"], env=env, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        with open(os.path.join(self.work, "puente.pid"), "w") as f:
            f.write(str(self.proc.pid))

    def wait_ready(self, deadline=120):
        def ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"puente exited with {self.proc.returncode}; log:\n{self.tail()}")
            status, body = request("GET", f"{self.base}/readyz", timeout=5)
            return status == 200, f"readyz {status} {str(body)[:200]}"
        wait_for("Puente ready", ready, deadline, interval=0.2)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        """SIGKILL: no shutdown, no goodbye."""
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self):
        """SIGTERM, as an orderly restart does; SIGKILL if it takes too long."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, n=40):
        """The last `n` lines (all with None) the current Puente printed."""
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:] if n else f.readlines())
        except OSError:
            return "(no log)"


class Api:
    """One signed-in account against Puente's public API."""

    def __init__(self, puente, token=None):
        self.puente, self.token = puente, token

    def call(self, method, path, body=None, timeout=20):
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        return request(method, self.puente.base + path, body, headers, timeout)

    def must(self, method, path, body=None, expect=(200, 201)):
        status, resp = self.call(method, path, body)
        if status not in expect:
            raise Failure(f"{method} {path}: {status} {str(resp)[:300]}")
        return resp


class Emulator:
    """A link's WAHA emulator: the phone's side through its control API, on the published port."""

    def __init__(self, link_id):
        self.link_id = link_id
        self.name = "puente-waha-" + link_id.replace("-", "")
        self.base = self.key = None

    def resolve(self):
        info = json.loads(docker("inspect", self.name))[0]
        env = dict(e.split("=", 1) for e in info["Config"]["Env"])
        ports = info["NetworkSettings"]["Ports"].get("3000/tcp") or []
        if not ports:
            raise RuntimeError(f"{self.name} publishes no port")
        self.base = f"http://127.0.0.1:{ports[0]['HostPort']}"
        self.key = env["WAHA_API_KEY"]

    def control(self, method, action, body=None, timeout=30):
        if self.base is None:
            self.resolve()
        status, resp = request(method, f"{self.base}/__emulator/sessions/default/{action}", body,
                               {"x-api-key": self.key}, timeout)
        if status == 0:
            # The container may have been re-created on another port.
            self.resolve()
            status, resp = request(method, f"{self.base}/__emulator/sessions/default/{action}",
                                   body, {"x-api-key": self.key}, timeout)
        if status not in (200, 201):
            raise RuntimeError(f"emulator {action}: {status} {str(resp)[:300]}")
        return resp

    def inbound(self, phone, body, push_name=None):
        msg = {"from": f"{phone}@c.us", "body": body}
        if push_name:
            msg["pushName"] = push_name
        return self.control("POST", "inbound", msg)["id"]

    def sent_bodies(self, prefix):
        """How many times each body starting with `prefix` went out through WAHA's API."""
        sent = self.control("GET", "sent")
        return collections.Counter(s.get("body") for s in sent
                                   if str(s.get("body") or "").startswith(prefix))

    def sent_ids(self, prefix):
        """body → the ids WAHA gave each send of it."""
        ids = collections.defaultdict(list)
        for s in self.control("GET", "sent"):
            if str(s.get("body") or "").startswith(prefix):
                ids[s["body"]].append(s.get("id"))
        return ids

    def given_up(self):
        """Webhook deliveries the container gave up on, by event ("webhook given up after N")."""
        out = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True,
                             errors="replace", timeout=60)
        counts = collections.Counter()
        for line in (out.stdout + out.stderr).splitlines():
            if "given up" in line:
                m = re.search(r'event"?\s*[=:]\s*"?([\w.]+)', line)
                counts[m.group(1) if m else "?"] += 1
        return counts

    def pause(self):
        docker("pause", self.name)

    def unpause(self):
        docker("unpause", self.name, check=False)

    def freeze(self):
        docker("kill", "--signal", "STOP", self.name)

    def thaw(self):
        docker("kill", "--signal", "CONT", self.name, check=False)


class Prober:
    """Asks each of the API's `targets` twice a second (one thread per target, one call at a
    time, so a slow answer delays no other) and keeps every answer."""

    def __init__(self, puente, targets, interval=0.5):
        self.puente, self.targets, self.interval = puente, targets, interval
        self.records = []  # (started, finished, path, status); list.append is atomic
        self.halt = threading.Event()
        self.threads = [threading.Thread(target=self.probe, args=t, daemon=True) for t in targets]

    def start(self):
        for t in self.threads:
            t.start()

    def probe(self, path, token):
        headers = {"authorization": f"Bearer {token}"} if token else {}
        while not self.halt.is_set():
            t0 = time.monotonic()
            status, _ = request("GET", self.puente.base + path, headers=headers, timeout=10)
            self.records.append((t0, time.monotonic(), path, status))
            self.halt.wait(self.interval)


# --- the suite ------------------------------------------------------------------------------


class Agent:
    def __init__(self, name, api, phone):
        self.name, self.api, self.phone = name, api, phone
        self.link = None
        self.emu = None


class Suite:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        self.pg = Postgres(args.lib, args.pg_data, args.pg_port, args.db)
        env = dict(os.environ)
        env.update({
            "DATABASE_URL": self.pg.url(),
            "PUENTE_JWT_SECRET": secrets.token_hex(32),
            "PUENTE_MASTER_SECRET": secrets.token_hex(32),
            "PUENTE_BIND": f"127.0.0.1:{args.api_port}",
            # The containers post webhooks to host.docker.internal:<this port>.
            "PUENTE_WEBHOOK_BIND": f"0.0.0.0:{args.webhook_port}",
            "PUENTE_PUBLIC_URL": f"http://127.0.0.1:{args.api_port}",
            "PUENTE_INSTANCE": args.instance,
            "PUENTE_WAHA_IMAGE": args.image,
            "PUENTE_WAHA_MEMORY_MB": "128",
            "PUENTE_WAHA_EXTRA_ENV": ",".join(EMULATOR_ENV),
            "PUENTE_DATA_DIR": os.path.join(self.work, "files"),
            "PUENTE_RECONCILE_INTERVAL_SECS": "5",
            "PUENTE_SHUTDOWN_GRACE_SECS": "5",
            "PUENTE_ACCESS_TOKEN_TTL_SECS": "7200",
            # The suite sends far more than a person would.
            "PUENTE_SENDS_PER_MINUTE": "100000",
            "RUST_LOG": os.environ.get("RUST_LOG", "info,puente=info,sqlx=warn"),
            "NO_COLOR": "1",
        })
        for k in ("PUENTE_WEB_DIR", "PUENTE_WAHA_NETWORK", "PUENTE_WEBHOOK_BASE_URL", "PUENTE_RUNTIME"):
            env.pop(k, None)
        self.puente = Puente(args.bin, env, args.api_port, self.work)
        self.outages = []  # (start, end, what) — "puente" or "postgres"
        self.prober = None
        self.agents = {}
        self.results = []

    # -- set-up --

    def register(self, body):
        status, resp = request("POST", self.puente.base + "/api/v1/auth/register", body)
        if status != 201:
            raise Failure(f"register {body['email']}: {status} {str(resp)[:300]}")
        return resp["access_token"]

    def new_agent(self, admin, name, phone):
        code = admin.must("POST", "/api/v1/agency/invites", {"email": None})["code"]
        token = self.register({
            "email": f"{name.lower().replace(' ', '.')}@{self.args.instance}.chaos.example",
            "password": PASSWORD, "display_name": name, "account_type": "agent",
            "invite_code": code})
        return Agent(name, Api(self.puente, token), phone)

    def link(self, agent):
        """Create the agent's link, scan with the emulator's phone, wait for `working`."""
        link = agent.api.must("POST", "/api/v1/whatsapp/links", {})
        agent.link = link["id"]
        self.wait_link(agent, "scan_qr")
        agent.emu = Emulator(agent.link)
        agent.emu.control("POST", "scan", {"phone": agent.phone, "pushName": agent.name})
        self.wait_link(agent, "working")

    def wait_link(self, agent, want, deadline=120):
        def check():
            status, body = agent.api.call("GET", f"/api/v1/whatsapp/links/{agent.link}")
            got = body.get("status") if status == 200 and isinstance(body, dict) else status
            return got == want, f"{agent.name}'s link is {got}"
        wait_for(f"{agent.name}'s link {want}", check, deadline, interval=0.3)

    def setup(self):
        t0 = time.monotonic()
        say("set-up")
        # The link of scenario 2 is created by a Puente that gives its containers WAHA's retry
        # settings for a short window; the container keeps them after Puente restarts with the
        # defaults for the other links.
        short = ",".join(EMULATOR_ENV + [f"{k}={v}" for k, v in SHORT_RETRIES.items()])
        self.puente.start({"PUENTE_WAHA_EXTRA_ENV": short})
        self.puente.wait_ready()
        step(f"puente serve is ready (PostgreSQL on :{self.args.pg_port}, instance {self.args.instance})")
        admin = Api(self.puente, self.register({
            "email": f"admin@{self.args.instance}.chaos.example", "password": PASSWORD,
            "display_name": "Chaos Admin", "account_type": "agency_admin",
            "agency_name": "Chaos Homes"}))
        self.admin = admin
        self.agents["C"] = self.new_agent(admin, "Agent Carla", "34610000003")
        self.link(self.agents["C"])
        step(f"Agent Carla linked {self.agents['C'].link} (webhook retries: "
             f"{SHORT_RETRIES['WHATSAPP_HOOK_RETRIES_ATTEMPTS']} × "
             f"{SHORT_RETRIES['WHATSAPP_HOOK_RETRIES_DELAY_SECONDS']} s)")
        self.puente.stop()
        self.puente.start()
        self.puente.wait_ready()
        for key, name, phone in (("A", "Agent Ana", "34610000001"), ("B", "Agent Bruno", "34610000002")):
            self.agents[key] = self.new_agent(admin, name, phone)
            self.link(self.agents[key])
            step(f"{name} linked {self.agents[key].link} (WAHA's default webhook retries, 15 × 2 s)")
        self.wait_link(self.agents["C"], "working")
        a, b = self.agents["A"], self.agents["B"]
        targets = [("/healthz", None),
                   ("/api/v1/conversations?limit=5", a.api.token),
                   ("/api/v1/conversations?limit=5", b.api.token),
                   (f"/api/v1/whatsapp/links/{a.link}", a.api.token)]
        self.prober = Prober(self.puente, targets)
        self.prober.start()
        step(f"set-up took {time.monotonic() - t0:.0f}s")

    # -- helpers for scenarios --

    def outage(self, what):
        """A context for a deliberate outage: probes overlapping it are excused."""
        suite = self

        class Window:
            def __enter__(self):
                self.start = time.monotonic()
                return self

            def __exit__(self, *exc):
                suite.outages.append((self.start, time.monotonic(), what))
                return False
        return Window()

    def restart_puente(self, kill=True, down_secs=0.0):
        """SIGKILL (or SIGTERM) Puente, wait, start it again; returns seconds it was away."""
        with self.outage("puente") as w:
            self.puente.kill() if kill else self.puente.stop()
            time.sleep(down_secs)
            self.puente.start()
            self.puente.wait_ready()
        return time.monotonic() - w.start

    def conversation(self, agent, phone, hello):
        """The agent's conversation with `phone` (the phone writes `hello` first)."""
        agent.emu.inbound(phone, hello, f"Buyer {phone[-3:]}")

        def check():
            status, page = agent.api.call("GET", "/api/v1/conversations?limit=100")
            if status != 200:
                return False, f"conversation list answered {status}"
            for c in page.get("items", []):
                if (c.get("contact") or {}).get("phone") == phone or phone in str(c.get("chat_id")):
                    return True, c["id"]
            return False, f"no conversation with {phone} among {len(page.get('items', []))}"
        return wait_for(f"{agent.name}'s conversation with {phone}", check, 60, interval=0.3)

    def stored(self, prefix, direction):
        """body → {n, statuses, links, conversations} for the stored messages with `prefix`."""
        rows = self.pg.query(
            "select m.body, count(*)::int as n, array_agg(m.status) as statuses, "
            "array_agg(distinct m.link_id::text) as links, "
            "array_agg(m.wa_message_id) as wa_ids, "
            "sum((select count(*) from outbox o where o.message_id = m.id and o.done_at is null))::int "
            "  as open_jobs, "
            "max((select max(o.attempts) from outbox o where o.message_id = m.id))::int as attempts "
            f"from messages m where m.direction = '{direction}' and m.body like '{prefix}%' "
            "group by m.body")
        return {r["body"]: r for r in rows}

    def wait_stored(self, what, bodies, prefix, direction, deadline, sent=False):
        """Wait until every body is stored (and, with `sent`, out of `pending`)."""
        want = set(bodies)

        def check():
            rows = self.stored(prefix, direction)
            missing = want - set(rows)
            pending = [b for b in want & set(rows)
                       if sent and not all(s in SENT_STATUSES for s in rows[b]["statuses"])]
            failed = [b for b in want & set(rows) if "failed" in rows[b]["statuses"]]
            if failed:
                raise Failure(f"{what}: marked failed: {brief(failed)}")
            detail = f"{len(want) - len(missing)}/{len(want)} stored"
            if sent:
                detail += f", {len(pending)} still pending"
            if missing:
                detail += f"; missing: {brief(missing)}"
            if pending:
                detail += f"; pending: {brief(pending)}"
            return not missing and not pending, detail
        return wait_for(what, check, deadline)

    def count_once(self, problems, what, bodies, prefix, direction, link=None, emus=None,
                   home=None):
        """Every body stored exactly once (on `link`), and with `emus`, sent exactly once
        through `home` and never through the others."""
        rows = self.stored(prefix, direction)
        want = set(bodies)
        lost = want - set(rows)
        doubled = {b: rows[b]["n"] for b in want & set(rows) if rows[b]["n"] != 1}
        stray = set(rows) - want
        wrong_link = [b for b in want & set(rows) if link and rows[b]["links"] != [link]]
        if lost:
            problems.append(f"{what}: {len(lost)} of {len(want)} never stored: {brief(lost)}")
        if doubled:
            problems.append(f"{what}: stored more than once: "
                            f"{brief(f'{b} ×{n}' for b, n in doubled.items())}")
        if stray:
            problems.append(f"{what}: stored but never written: {brief(stray)}")
        if wrong_link:
            problems.append(f"{what}: stored under another link: {brief(wrong_link)}")
        out = {"stored": sum(1 for b in want if b in rows),
               "doubled": len(doubled), "lost": len(lost)}
        if direction == "out":
            open_jobs = {b: rows[b]["open_jobs"] for b in want & set(rows) if rows[b]["open_jobs"]}
            if open_jobs:
                problems.append(f"{what}: outbox jobs still open (they could send again): "
                                f"{brief(open_jobs)}")
            out["jobs that took more than one attempt"] = sum(
                1 for b in want & set(rows) if (rows[b]["attempts"] or 0) > 1)
        if emus:
            for emu in emus:
                sent = emu.sent_bodies(prefix)
                if emu is home:
                    ids = emu.sent_ids(prefix)
                    wrong_id = [b for b in want & set(rows) & set(ids)
                                if any(w not in ids[b] for w in rows[b]["wa_ids"])]
                    if wrong_id:
                        shown = [f"{b}: stored {rows[b]['wa_ids']}, WAHA {ids[b]}" for b in wrong_id]
                        problems.append(f"{what}: stored with a WhatsApp id WAHA did not give it: "
                                        f"{brief(shown, 3)}")
                    never = want - set(sent)
                    twice = {b: n for b, n in sent.items() if n > 1}
                    if never:
                        problems.append(f"{what}: {len(never)} never reached WAHA: {brief(never)}")
                    if twice:
                        problems.append(f"{what}: reached WAHA more than once: "
                                        f"{brief(f'{b} ×{n}' for b, n in twice.items())}")
                    out["reached WAHA"] = sum(1 for b in want if b in sent)
                    out["reached WAHA twice"] = len(twice)
                elif sent:
                    problems.append(f"{what}: went out through another link's WAHA "
                                    f"({emu.link_id}): {brief(sent)}")
        return out

    def settle(self, secs=5):
        """Let late retries and redeliveries land before the final count."""
        time.sleep(secs)

    def api_check(self, problems, notes, t0, t1):
        """Every probe in [t0, t1] answered 200, except during a deliberate outage: Puente away
        (nothing expected) or PostgreSQL away (only /healthz expected)."""
        tally = collections.Counter()
        bad = collections.Counter()
        odd = collections.Counter()
        slowest = {}
        for start, end, path, status in list(self.prober.records):
            if end < t0 or start > t1:
                continue
            during = {w for (s, e, w) in self.outages if start <= e and end >= s}
            kind = "puente down" if "puente" in during else "postgres down" if "postgres" in during else "normal"
            slowest[kind] = max(slowest.get(kind, 0.0), end - start)
            label = path.split("?")[0]
            if label.startswith("/api/v1/whatsapp/links/"):
                label = "/api/v1/whatsapp/links/{id}"
            tally[(kind, status)] += 1
            if kind == "normal" or (kind == "postgres down" and path == "/healthz"):
                if status != 200:
                    bad[(kind, label, status)] += 1
            elif kind == "postgres down" and status not in (200, 503):
                odd[(label, status)] += 1
        for (kind, label, status), n in sorted(bad.items()):
            problems.append(f"API: {label} answered {status or 'nothing'} {n}× ({kind})")
        for (label, status), n in sorted(odd.items()):
            notes.append(f"API: {label} answered {status or 'nothing within 10 s'} {n}× while "
                         "PostgreSQL was away (503 expected)")
        summary = {}
        for (kind, status), n in sorted(tally.items()):
            summary.setdefault(kind, {})[str(status or "none")] = n
        for kind, secs in slowest.items():
            summary[kind]["slowest (s)"] = round(secs, 2)
        return summary

    # -- the scenarios --

    def s1_kill_mid_flood(self, fig, problems):
        a = self.agents["A"]
        conv = self.conversation(a, "34620009999", "S1-HELLO")
        n, chats, rate = self.args.flood, 10, self.args.rate
        items = [(f"3462000{i % chats:04d}", f"S1-IN-{i:04d}") for i in range(n)]
        replies = [(a, conv, f"S1-OUT-{i:03d}") for i in range(self.args.replies)]
        flood = Flood(a.emu, items, rate)
        step(f"the phone floods {n} messages from {chats} chats at ~{rate}/s while the agent sends "
             f"{len(replies)} replies; SIGKILL at {n // 3}")
        flood.start()
        sender = self.send_all(replies, 0.5)
        flood.wait_count(n // 3)
        # Right after Puente accepted a reply: its outbox is most likely sending it.
        sender.wait_count(sender.count + 1)
        at_kill, replies_at_kill = flood.count, sender.count
        down = self.restart_puente(kill=True, down_secs=3)
        at_up = flood.count
        step(f"Puente SIGKILLed after {at_kill} messages and {replies_at_kill} replies, back "
             f"{down:.1f}s later (the phone wrote {at_up - at_kill} meanwhile)")
        flood.join()
        sender.join()
        if flood.errors:
            raise Failure(f"the phone could not write: {flood.errors[:3]}")
        if sender.errors:
            raise Failure(f"replies refused for good: {sender.errors[:3]}")
        t = time.monotonic()
        self.wait_stored("S1 inbound stored", [b for _, b in items], "S1-IN-", "in", 180)
        # A reply whose job the killed process held waits for its lease (60 s) to run out.
        self.wait_stored("S1 replies sent", [b for *_, b in replies], "S1-OUT-", "out", 240, sent=True)
        fig["written"] = n
        fig["replies"] = len(replies)
        fig["written while Puente was away"] = at_up - at_kill
        fig["Puente away (s)"] = round(down, 1)
        fig["all stored and sent after the flood (s)"] = round(time.monotonic() - t, 1)
        fig["send retries (client)"] = sender.retries
        self.settle()
        inbound = self.count_once(problems, "S1 inbound", [b for _, b in items], "S1-IN-", "in",
                                  link=a.link)
        out = self.count_once(problems, "S1 replies", [b for *_, b in replies], "S1-OUT-", "out",
                              link=a.link, emus=self.emus(), home=a.emu)
        fig.update({f"inbound {k}": v for k, v in inbound.items()})
        fig.update({f"replies {k}": v for k, v in out.items()})
        convs = self.pg.query("select count(distinct conversation_id)::int as n from messages "
                              "where body like 'S1-IN-%'")[0]["n"]
        fig["conversations"] = convs
        if convs != chats:
            problems.append(f"S1: {chats} chats became {convs} conversations")

    def s2_down_past_retry_window(self, fig, problems):
        c = self.agents["C"]
        chats, per_chat = 6, max(1, self.args.flood // 30)
        # Three chats Puente knows already, three it has never seen.
        known = [f"3463000{i:04d}" for i in range(3)]
        for i, phone in enumerate(known):
            c.emu.inbound(phone, f"S2-IN-HELLO-{i}", f"Buyer {phone[-3:]}")
        hellos = [f"S2-IN-HELLO-{i}" for i in range(3)]
        self.wait_stored("S2 first messages stored", hellos, "S2-IN-HELLO-", "in", 60)
        before = c.emu.given_up()[INBOUND_EVENT]
        with self.outage("puente") as w:
            self.puente.kill()
            step("Puente SIGKILLed; it stays down while the phone writes")
            bodies = []
            for i in range(chats * per_chat):
                phone = f"3463000{i % chats:04d}"
                body = f"S2-IN-{i:04d}"
                c.emu.inbound(phone, body, f"Buyer {phone[-3:]}")
                bodies.append(body)

            def given_up():
                n = c.emu.given_up()[INBOUND_EVENT] - before
                return n >= len(bodies), f"WAHA gave up on {n} of {len(bodies)} message webhooks"
            wait_for("WAHA giving up its webhooks", given_up, 120)
            time.sleep(2)
            away = time.monotonic() - w.start
            step(f"WAHA gave up on all {len(bodies)} message webhooks; Puente away {away:.0f}s, "
                 "starting again")
            self.puente.start()
            self.puente.wait_ready()
        # A live message right after the restart, in another chat, while catch-up may run.
        c.emu.inbound("34630009999", "S2-IN-LIVE", "Late Buyer")
        want = hellos + bodies + ["S2-IN-LIVE"]
        t = time.monotonic()
        self.wait_stored("S2 inbound recovered", want, "S2-IN-", "in", 120)
        fig["written while down"] = len(bodies)
        fig["webhooks WAHA gave up on"] = c.emu.given_up()[INBOUND_EVENT] - before
        fig["Puente away (s)"] = round(away, 1)
        fig["all stored after the restart (s)"] = round(time.monotonic() - t, 1)
        recovered = sum(int(m) for m in re.findall(r"recovered[=:\s\"]+(\d+)",
                                                    self.puente.tail(None)))
        fig["recovered by catch-up (log)"] = recovered
        self.settle()
        fig.update(self.count_once(problems, "S2 inbound", want, "S2-IN-", "in", link=c.link))

    def send_all(self, jobs, gap):
        """Send (agent, conversation, body) one after another, `gap` seconds apart, retrying
        each (same client id) until Puente accepts it; returns a Sender thread."""
        sender = Sender(jobs, gap)
        sender.start()
        return sender

    def s3_pause_while_sending(self, fig, problems):
        a = self.agents["A"]
        conv = self.conversation(a, "34640000001", "S3-HELLO")
        n = self.args.replies
        jobs = [(a, conv, f"S3-OUT-{i:03d}") for i in range(n)]
        sender = self.send_all(jobs, 0.4)
        sender.wait_count(min(5, n))
        a.emu.pause()
        t_pause = time.monotonic()
        step(f"container paused after {sender.count} of {n} replies were accepted")
        try:
            sender.join()
            if sender.errors:
                raise Failure(f"replies refused while the container was paused: {sender.errors[:3]}")
            time.sleep(max(0.0, self.args.pause_secs - (time.monotonic() - t_pause)))
            pending = self.pending([b for *_, b in jobs], "S3-OUT-")
        finally:
            a.emu.unpause()
        paused = time.monotonic() - t_pause
        step(f"unpaused after {paused:.0f}s ({pending} replies still pending)")
        t = time.monotonic()
        self.wait_stored("S3 replies sent", [b for *_, b in jobs], "S3-OUT-", "out", 300, sent=True)
        fig["replies"] = n
        fig["paused (s)"] = round(paused, 1)
        fig["pending at unpause"] = pending
        fig["all sent after unpause (s)"] = round(time.monotonic() - t, 1)
        fig["send retries (client)"] = sender.retries
        self.settle()
        fig.update(self.count_once(problems, "S3 replies", [b for *_, b in jobs], "S3-OUT-", "out",
                                   link=a.link, emus=self.emus(), home=a.emu))

    def pending(self, bodies, prefix):
        rows = self.stored(prefix, "out")
        return sum(1 for b in bodies if b not in rows or
                   not all(s in SENT_STATUSES for s in rows[b]["statuses"]))

    def emus(self):
        return [ag.emu for ag in self.agents.values()]

    def s4_postgres_restart(self, fig, problems):
        a, b, c = self.agents["A"], self.agents["B"], self.agents["C"]
        conv = self.conversation(a, "34650000001", "S4-HELLO")
        # Agent Carla's container gives up on a webhook after two retries a second apart: what
        # its phone writes while the database is away only the catch-up can bring in.
        short = [(f"3465200{i % 3:04d}", f"S4-C-IN-{i:03d}") for i in range(12)]
        c_given_up = c.emu.given_up()[INBOUND_EVENT]
        n, chats, rate = max(10, self.args.flood * 2 // 3), 8, self.args.rate
        items = [(f"3465100{i % chats:04d}", f"S4-IN-{i:04d}") for i in range(n)]
        replies = [(a, conv, f"S4-OUT-{i:03d}") for i in range(self.args.replies)]
        flood = Flood(b.emu, items, rate)
        step(f"the phone floods {n} messages to Agent Bruno; Agent Ana sends {len(replies)} replies; "
             f"PostgreSQL stops at {n // 3}")
        flood.start()
        sender = self.send_all(replies, 0.5)
        flood.wait_count(n // 3)
        sender.wait_count(sender.count + 1)
        with self.outage("postgres") as w:
            self.pg.stop()
            at_stop = flood.count
            for phone, body in short:
                c.emu.inbound(phone, body, f"Buyer {phone[-3:]}")

            def given_up():
                got = c.emu.given_up()[INBOUND_EVENT] - c_given_up
                return got >= len(short), f"Agent Carla's WAHA gave up on {got} of {len(short)}"
            # Each attempt waits for Puente's pool (5 s) before its 503: some 20 s.
            wait_for("Agent Carla's WAHA giving up its webhooks", given_up, 120)
            time.sleep(max(0.0, self.args.pg_down_secs - (time.monotonic() - w.start)))
            self.pg.start()
        away = time.monotonic() - w.start
        c_given_up = c.emu.given_up()[INBOUND_EVENT] - c_given_up
        step(f"PostgreSQL stopped after {at_stop} messages and started again {away:.1f}s later "
             f"(the phone wrote {flood.count - at_stop} meanwhile, and {len(short)} to Agent Carla, "
             f"whose WAHA gave up on {c_given_up} of them)")
        flood.join()
        sender.join()
        if flood.errors:
            raise Failure(f"the phone could not write: {flood.errors[:3]}")
        if sender.errors:
            raise Failure(f"replies refused for good: {sender.errors[:3]}")
        t = time.monotonic()
        self.wait_stored("S4 inbound stored", [x for _, x in items], "S4-IN-", "in", 180)
        self.wait_stored("S4 replies sent", [x for *_, x in replies], "S4-OUT-", "out", 240, sent=True)
        self.wait_stored("S4 short-retry link's inbound stored", [x for _, x in short], "S4-C-IN-",
                         "in", 120)
        fig["written"] = n
        fig["written to the short-retry link while away"] = len(short)
        fig["webhooks it gave up on"] = c_given_up
        fig["replies"] = len(replies)
        fig["PostgreSQL away (s)"] = round(away, 1)
        fig["all stored and sent after restart (s)"] = round(time.monotonic() - t, 1)
        fig["send retries (client)"] = sender.retries
        self.settle()
        inbound = self.count_once(problems, "S4 inbound", [x for _, x in items], "S4-IN-", "in",
                                  link=b.link)
        out = self.count_once(problems, "S4 replies", [x for *_, x in replies], "S4-OUT-", "out",
                              link=a.link, emus=self.emus(), home=a.emu)
        short_in = self.count_once(problems, "S4 short-retry link's inbound", [x for _, x in short],
                                   "S4-C-IN-", "in", link=c.link)
        fig.update({f"inbound {k}": v for k, v in inbound.items()})
        fig.update({f"replies {k}": v for k, v in out.items()})
        fig.update({f"short-retry link's inbound {k}": v for k, v in short_in.items()})
        convs = self.pg.query("select count(distinct conversation_id)::int as n from messages "
                              "where body like 'S4-IN-%'")[0]["n"]
        fig["conversations"] = convs
        if convs != chats:
            problems.append(f"S4: {chats} chats became {convs} conversations")

    def s5_frozen_container(self, fig, problems):
        a, b = self.agents["A"], self.agents["B"]
        conv_a = self.conversation(a, "34660000001", "S5-HELLO-A")
        conv_b = self.conversation(b, "34660000002", "S5-HELLO-B")
        na, nb = max(1, self.args.replies // 2), self.args.replies
        jobs_a = [(a, conv_a, f"S5-OUT-A-{i:03d}") for i in range(na)]
        jobs_b = [(b, conv_b, f"S5-OUT-B-{i:03d}") for i in range(nb)]
        jobs = []
        for i in range(max(na, nb)):
            jobs += jobs_b[i:i + 1] + jobs_a[i:i + 1]
        a.emu.freeze()
        t_freeze = time.monotonic()
        step(f"Agent Ana's container frozen (SIGSTOP); {na} replies to it and {nb} to Agent "
             "Bruno's healthy link")
        try:
            sender = self.send_all(jobs, 0.3)
            sender.join()
            if sender.errors:
                raise Failure(f"replies refused: {sender.errors[:3]}")
            # The healthy link's replies go out while the other is still frozen.
            self.wait_stored("S5 healthy link's replies sent while the other link is frozen",
                             [x for *_, x in jobs_b], "S5-OUT-B-", "out", 150, sent=True)
            healthy_done = time.monotonic() - t_freeze
            time.sleep(max(0.0, self.args.freeze_secs - (time.monotonic() - t_freeze)))
            pending_a = self.pending([x for *_, x in jobs_a], "S5-OUT-A-")
        finally:
            a.emu.thaw()
        frozen = time.monotonic() - t_freeze
        step(f"healthy link's {nb} replies all sent {healthy_done:.0f}s into the freeze; "
             f"thawed after {frozen:.0f}s with {pending_a} of {na} still pending")
        if pending_a != na:
            problems.append(f"S5: {na - pending_a} replies marked sent while their WAHA was frozen")
        t = time.monotonic()
        self.wait_stored("S5 frozen link's replies sent", [x for *_, x in jobs_a], "S5-OUT-A-", "out",
                         300, sent=True)
        fig["replies (frozen link)"] = na
        fig["replies (healthy link)"] = nb
        fig["frozen (s)"] = round(frozen, 1)
        fig["healthy link all sent, into the freeze (s)"] = round(healthy_done, 1)
        fig["frozen link all sent after thaw (s)"] = round(time.monotonic() - t, 1)
        self.settle()
        fa = self.count_once(problems, "S5 frozen link", [x for *_, x in jobs_a], "S5-OUT-A-", "out",
                             link=a.link, emus=self.emus(), home=a.emu)
        fb = self.count_once(problems, "S5 healthy link", [x for *_, x in jobs_b], "S5-OUT-B-", "out",
                             link=b.link, emus=self.emus(), home=b.emu)
        fig.update({f"frozen link {k}": v for k, v in fa.items()})
        fig.update({f"healthy link {k}": v for k, v in fb.items()})

    SCENARIOS = [
        (1, "Puente SIGKILLed and restarted mid-flood", "s1_kill_mid_flood"),
        (2, "Puente down past WAHA's webhook retry window", "s2_down_past_retry_window"),
        (3, "a session container paused while the agent sends", "s3_pause_while_sending"),
        (4, "PostgreSQL restarted during a flood and sends", "s4_postgres_restart"),
        (5, "a container frozen (SIGSTOP) beside a healthy link", "s5_frozen_container"),
    ]

    def restore(self):
        """Whatever a scenario broke comes back before the next one."""
        for ag in self.agents.values():
            if ag.emu:
                ag.emu.unpause()
                ag.emu.thaw()
        try:
            self.pg.start()
        except RuntimeError as e:
            say(f"    could not start PostgreSQL again: {e}")
        if not self.puente.alive():
            self.puente.start()
            self.puente.wait_ready()
        for ag in self.agents.values():
            self.wait_link(ag, "working", 120)

    def run_scenario(self, num, title, method):
        say(f"\nscenario {num}: {title}")
        fig, problems, notes = {}, [], []
        t0 = time.monotonic()
        try:
            getattr(self, method)(fig, problems)
        except Failure as e:
            problems.append(str(e))
        except Exception as e:  # noqa: BLE001 — a broken harness is a failed scenario too
            problems.append(f"{type(e).__name__}: {e}")
            traceback.print_exc()
        t1 = time.monotonic()
        fig["API probes"] = self.api_check(problems, notes, t0, t1)
        try:
            self.restore()
        except Exception as e:  # noqa: BLE001
            problems.append(f"could not restore the set-up after the scenario: {e}")
        duration = round(t1 - t0, 1)
        expected = EXPECTED_FAILURES.get(num)
        if problems:
            verdict = "XFAIL" if expected else "FAIL"
        else:
            verdict = "XPASS" if expected else "PASS"
        self.results.append({"scenario": num, "title": title, "verdict": verdict,
                             "seconds": duration, "figures": fig, "problems": problems, "notes": notes,
                             "expected_failure": expected})
        for k, v in fig.items():
            say(f"    {k}: {json.dumps(v) if isinstance(v, dict) else v}")
        for n in notes:
            say(f"    NOTE: {n}")
        for p in problems:
            say(f"    PROBLEM: {p}")
        if verdict == "XFAIL":
            say(f"    expected failure: {expected}")
        if verdict == "XPASS":
            say("    passed although listed in EXPECTED_FAILURES: remove it from there")
        say(f"  => scenario {num} {verdict} in {duration}s")

    def run(self):
        t0 = time.monotonic()
        wanted = set(self.args.only) if self.args.only else None
        try:
            self.setup()
            for num, title, method in self.SCENARIOS:
                if wanted is None or num in wanted:
                    self.run_scenario(num, title, method)
        finally:
            if self.prober:
                self.prober.halt.set()
            for ag in self.agents.values():
                if ag.emu:
                    ag.emu.unpause()
                    ag.emu.thaw()
            if self.results and any(r["verdict"] == "FAIL" for r in self.results):
                say(f"\nPuente's last log lines ({self.puente.log_path}):\n{self.puente.tail(60)}")
            self.puente.stop()
        total = round(time.monotonic() - t0, 1)
        say("\nchaos suite summary")
        for r in self.results:
            say(f"  {r['verdict']:<5}  {r['scenario']}. {r['title']:<58} {r['seconds']:>6}s")
        say(f"  whole suite (set-up included): {total}s")
        with open(os.path.join(self.work, "summary.json"), "w") as f:
            json.dump({"seconds": total, "scenarios": self.results}, f, indent=2)
        return 0 if all(r["verdict"] in ("PASS", "XFAIL", "XPASS") for r in self.results) else 1


class Flood(threading.Thread):
    """The phone writes `items` ((phone, body)…) at about `rate` messages a second."""

    def __init__(self, emu, items, rate):
        super().__init__(daemon=True)
        self.emu, self.items, self.rate = emu, items, rate
        self.count = 0
        self.errors = []
        self.cond = threading.Condition()

    def run(self):
        start = time.monotonic()
        for i, (phone, body) in enumerate(self.items):
            delay = start + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                self.emu.inbound(phone, body, f"Buyer {phone[-3:]}")
            except Exception as e:  # noqa: BLE001 — reported by the scenario
                self.errors.append(f"{body}: {e}")
            with self.cond:
                self.count += 1
                self.cond.notify_all()

    def wait_count(self, n, deadline=120):
        with self.cond:
            if not self.cond.wait_for(lambda: self.count >= n or not self.is_alive(), deadline):
                raise Failure(f"the phone wrote only {self.count} of {n} messages within {deadline}s")


class Sender(threading.Thread):
    """Agents' replies, one after another; each retried with its client id (as the app does)
    while Puente is away or answers 5xx/408/429, for up to 3 minutes."""

    RETRY = (0, 408, 429, 500, 502, 503, 504)

    def __init__(self, jobs, gap):
        super().__init__(daemon=True)
        self.jobs, self.gap = jobs, gap
        self.count = 0
        self.retries = 0
        self.errors = []
        self.cond = threading.Condition()

    def run(self):
        for agent, conv, body in self.jobs:
            end = time.monotonic() + 180
            while True:
                status, resp = agent.api.call("POST", f"/api/v1/conversations/{conv}/messages",
                                              {"client_id": body.lower(), "body": body})
                if status in (200, 201):
                    break
                if status not in self.RETRY or time.monotonic() > end:
                    self.errors.append(f"{body}: {status} {str(resp)[:200]}")
                    break
                self.retries += 1
                time.sleep(0.5)
            with self.cond:
                self.count += 1
                self.cond.notify_all()
            time.sleep(self.gap)

    def wait_count(self, n, deadline=120):
        with self.cond:
            if not self.cond.wait_for(lambda: self.count >= n or not self.is_alive(), deadline):
                raise Failure(f"only {self.count} of {n} replies accepted within {deadline}s")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bin", required=True, help="the puente binary")
    p.add_argument("--lib", default=os.path.join(os.path.dirname(__file__), "../../scripts/lib.sh"))
    p.add_argument("--pg-data", required=True)
    p.add_argument("--pg-port", type=int, required=True)
    p.add_argument("--db", default="puente_chaos")
    p.add_argument("--instance", required=True)
    p.add_argument("--image", default=os.environ.get("PUENTE_WAHA_IMAGE", "puente/waha-emulator:dev"))
    p.add_argument("--work", required=True, help="a directory for logs and files")
    p.add_argument("--api-port", type=int, required=True)
    p.add_argument("--webhook-port", type=int, required=True)
    p.add_argument("--only", type=lambda s: [int(x) for x in s.split(",") if x], default=None,
                   help="comma-separated scenario numbers")
    p.add_argument("--flood", type=int, default=300, help="inbound messages in scenario 1")
    p.add_argument("--rate", type=float, default=20.0, help="the phone's messages per second")
    p.add_argument("--replies", type=int, default=20, help="agent replies per scenario")
    p.add_argument("--pause-secs", type=float, default=20.0)
    p.add_argument("--freeze-secs", type=float, default=35.0)
    p.add_argument("--pg-down-secs", type=float, default=5.0, help="at least; see scenario 4")
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    suite = Suite(args)
    try:
        sys.exit(suite.run())
    except Failure as e:
        say(f"FAILED during set-up: {e}")
        sys.exit(1)


if __name__ == "__main__":
    main()
