#!/usr/bin/python3
"""The end-to-end flow of scripts/test-compose, against a running compose stack, over https
through nginx only: sign in, link a number (the emulator plays the phone), receive a WhatsApp
message over the WebSocket, answer it, see it reach the phone, delete the link.

The phone is driven through the emulator's control API on the session container's address
(the host reaches the sessions network; Puente is not involved in that part).

usage: flow.py --base https://localhost:PORT --cafile CERT --instance NAME --email E --password P
Needs Debian's python3-websockets (10.x). Prints one line per step; exits non-zero on failure.
"""

import argparse
import asyncio
import json
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

import websockets


def step(msg):
    print(f"  - {msg}", flush=True)


class Api:
    def __init__(self, base, ctx):
        self.base = base.rstrip("/")
        self.ctx = ctx
        self.token = None

    def call(self, method, path, body=None, expect=(200, 201)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("content-type", "application/json")
        req.add_header("x-request-id", f"compose-test-{uuid.uuid4().hex[:12]}")
        if self.token:
            req.add_header("authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=30) as resp:
                status, text, headers = resp.status, resp.read().decode(), resp.headers
        except urllib.error.HTTPError as e:
            status, text, headers = e.code, e.read().decode(), e.headers
        if status not in expect:
            raise AssertionError(f"{method} {path}: {status} {text[:500]}")
        return json.loads(text) if text else None, headers


class Socket:
    """Collects every frame of /api/v1/ws in the background; `wait` finds one."""

    def __init__(self):
        self.frames = []
        self.ws = None
        self.task = None

    async def open(self, url, ctx):
        self.ws = await websockets.connect(url, ssl=ctx, max_size=2**22)
        self.task = asyncio.create_task(self._read())

    async def _read(self):
        try:
            async for raw in self.ws:
                try:
                    self.frames.append(json.loads(raw))
                except ValueError:
                    pass
        except websockets.ConnectionClosed:
            pass

    async def wait(self, what, pred, secs=90):
        deadline = time.monotonic() + secs
        seen = 0
        while time.monotonic() < deadline:
            for frame in self.frames[seen:]:
                if pred(frame):
                    return frame
            seen = len(self.frames)
            if self.task.done():
                raise AssertionError(f"socket closed while waiting for {what}")
            await asyncio.sleep(0.1)
        kinds = [f.get("type") for f in self.frames]
        raise AssertionError(f"no {what} within {secs}s; frames: {kinds}")

    async def close(self):
        await self.ws.close()


def docker(*args):
    out = subprocess.run(["docker", *args], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def session_container(instance, link_id):
    """(address on its network, WAHA API key) of the link's container."""
    cid = docker("ps", "-q", "--filter", f"label=puente.instance={instance}",
                 "--filter", f"label=puente.link={link_id}")
    if not cid:
        raise AssertionError(f"no running container for link {link_id}")
    info = json.loads(docker("inspect", cid))[0]
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    nets = info["NetworkSettings"]["Networks"]
    ip = next(n["IPAddress"] for n in nets.values() if n["IPAddress"])
    return ip, env["WAHA_API_KEY"]


def phone(addr, key, action, body=None):
    """The emulator's control API: what the buyer's and the agent's phones do."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{addr}:3000/__emulator/sessions/default/{action}",
                                 data=data, method="POST" if data is not None else "GET")
    req.add_header("content-type", "application/json")
    req.add_header("x-api-key", key)
    with urllib.request.urlopen(req, timeout=60) as resp:
        text = resp.read().decode()
    return json.loads(text) if text else None


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--instance", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--password", required=True)
    a = p.parse_args()

    # The self-signed certificate nginx generated, verified like any other (name included).
    ctx = ssl.create_default_context(cafile=a.cafile)
    api = Api(a.base, ctx)

    body, headers = api.call("GET", "/readyz")
    assert body["status"] == "ready", body
    assert headers.get("x-request-id", "").startswith("compose-test-"), dict(headers)
    step("readyz through nginx: ready; the request id came back")

    body, _ = api.call("POST", "/api/v1/auth/login", {"email": a.email, "password": a.password})
    api.token = body["access_token"]
    step(f"signed in as {a.email} ({body['user']['role']})")

    ws = Socket()
    wss = a.base.replace("https://", "wss://", 1)
    await ws.open(f"{wss}/api/v1/ws?access_token={api.token}", ctx)
    step("WebSocket open over wss")

    link, _ = api.call("POST", "/api/v1/whatsapp/links", {})
    link_id = link["id"]
    step(f"link {link_id} created ({link['status']})")
    await ws.wait("link.qr", lambda f: f.get("type") == "link.qr" and f["data"].get("link_id", link_id) == link_id, 120)
    step("QR pushed over the WebSocket")

    addr, key = session_container(a.instance, link_id)
    phone(addr, key, "scan", {"phone": "34600000001", "pushName": "Ana"})
    working = await ws.wait("link.status working",
                            lambda f: f.get("type") == "link.status" and f["data"].get("status") == "working", 90)
    assert working["data"].get("phone") == "34600000001", working
    step("phone scanned: link working (session container → webhook listener → Puente)")

    text = f"Hola, ¿sigue disponible el piso? {uuid.uuid4().hex[:6]}"
    phone(addr, key, "inbound", {"from": "34600000002@c.us", "body": text, "pushName": "Bea"})
    created = await ws.wait("message.created",
                            lambda f: f.get("type") == "message.created"
                            and f["data"]["message"].get("body") == text, 60)
    conv = created["data"]["conversation_id"]
    assert created["data"]["message"]["direction"] == "in", created
    step(f"buyer's WhatsApp message arrived over the WebSocket (conversation {conv})")

    reply = "¡Hola Bea! Sí, sigue disponible."
    sent, _ = api.call("POST", f"/api/v1/conversations/{conv}/messages",
                       {"client_id": f"compose-{uuid.uuid4().hex[:8]}", "body": reply})
    await ws.wait("reply sent",
                  lambda f: f.get("type") == "message.updated"
                  and f["data"]["message"]["id"] == sent["id"]
                  and f["data"]["message"]["status"] in ("sent", "delivered", "read"), 60)
    on_phone = phone(addr, key, "sent")
    assert any(reply in json.dumps(s, ensure_ascii=False) for s in on_phone), on_phone
    step("answer sent through WAHA and seen on the phone")

    await ws.close()
    api.call("DELETE", f"/api/v1/whatsapp/links/{link_id}", expect=(200, 202, 204))
    deadline = time.monotonic() + 60
    while docker("ps", "-aq", "--filter", f"label=puente.instance={a.instance}"):
        if time.monotonic() > deadline:
            raise AssertionError("the link's container is still there after DELETE")
        time.sleep(0.5)
    step("link deleted: its container is gone")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
