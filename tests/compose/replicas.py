#!/usr/bin/python3
"""The flow of scripts/test-stack, against docker-compose.yml deployed as a Swarm stack with two
Puente replicas behind nginx, over https through nginx only:

1. sign in; open several WebSockets — new connections to the `puente` service spread over
   both replicas (the test reads PostgreSQL's presence rows to see that they did);
2. link a number on the Swarm runtime (the emulator plays the phone), scan, see it working;
3. a buyer's WhatsApp message reaches the webhook receiver of ONE replica, and every socket —
   so sockets held by the OTHER replica too — gets it;
4. one replica is killed (SIGKILL of its task's container): its sockets drop, a message sent
   while they are down, then they reconnect through nginx with `since` and get it exactly
   once, with no event missing between what they had and what they get;
5. the agent answers through the surviving replica and the phone receives it; Swarm has
   started a new task for the killed replica.

The phone (the emulator's control API) is on the sessions overlay network, which the host
cannot reach: each phone call runs curl in a throwaway container attached to that network.

usage: replicas.py --base URL --cafile CERT --instance NAME --stack NAME --network NET
                   --curl-image IMAGE --email E --password P
"""

import argparse
import asyncio
import json
import ssl
import subprocess
import sys
import time
import uuid

from flow import Api, Socket, docker, step

SOCKETS = 6


def service_containers(stack, service):
    out = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={stack}_{service}")
    return [c for c in out.split() if c]


def psql(stack, sql):
    (pg,) = service_containers(stack, "postgres")[:1]
    return docker("exec", pg, "psql", "-U", "puente", "-d", "puente", "-tAc", sql).strip()


def session(instance, link_id):
    """(overlay address, WAHA API key) of the link's session task container."""
    deadline = time.monotonic() + 60
    while True:
        cid = docker("ps", "-q", "--filter", f"label=puente.instance={instance}",
                     "--filter", f"label=puente.link={link_id}")
        if cid:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"no running task container for link {link_id}")
        time.sleep(0.5)
    info = json.loads(docker("inspect", cid.split()[0]))[0]
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    ip = next(n["IPAddress"] for n in info["NetworkSettings"]["Networks"].values() if n["IPAddress"])
    return ip, env["WAHA_API_KEY"]


class Phone:
    def __init__(self, network, image, addr, key):
        self.network, self.image, self.addr, self.key = network, image, addr, key

    def __call__(self, action, body=None):
        cmd = ["docker", "run", "--rm", "--network", self.network, "--entrypoint", "curl",
               "--read-only", "--cap-drop", "ALL", self.image, "-sS", "-m", "60", "--fail",
               "-H", "content-type: application/json", "-H", f"x-api-key: {self.key}",
               f"http://{self.addr}:3000/__emulator/sessions/default/{action}"]
        if body is not None:
            cmd[-1:-1] = ["-X", "POST", "--data", json.dumps(body)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        return json.loads(out) if out.strip() else None


def seqs(sock):
    return [f["seq"] for f in sock.frames if isinstance(f.get("seq"), int)]


async def main():
    p = argparse.ArgumentParser()
    for name in ("base", "cafile", "instance", "stack", "network", "curl-image", "email", "password"):
        p.add_argument(f"--{name}", required=True)
    a = p.parse_args()
    ctx = ssl.create_default_context(cafile=a.cafile)
    api = Api(a.base, ctx)
    wss = a.base.replace("https://", "wss://", 1)

    body, _ = api.call("POST", "/api/v1/auth/login", {"email": a.email, "password": a.password})
    api.token = body["access_token"]
    user_id = body["user"]["id"]
    step(f"signed in as {a.email} through nginx")

    async def open_socket(since=None):
        s = Socket()
        url = f"{wss}/api/v1/ws?access_token={api.token}"
        if since is not None:
            url += f"&since={since}"
        await s.open(url, ctx)
        return s

    sockets = [await open_socket() for _ in range(SOCKETS)]
    deadline = time.monotonic() + 30
    while True:
        processes = int(psql(a.stack, f"select count(distinct process_id) from realtime_presence where user_id = '{user_id}'"))
        if processes >= 2:
            break
        if time.monotonic() > deadline:
            raise AssertionError(f"{SOCKETS} sockets all landed on {processes} replica(s)")
        await asyncio.sleep(0.5)
    step(f"{SOCKETS} WebSockets open over wss, held by {processes} replicas")

    link, _ = api.call("POST", "/api/v1/whatsapp/links", {})
    link_id = link["id"]
    await sockets[0].wait("link.qr", lambda f: f.get("type") == "link.qr", 120)
    addr, key = session(a.instance, link_id)
    phone = Phone(a.network, a.curl_image, addr, key)
    phone("scan", {"phone": "34600000001", "pushName": "Ana"})
    for s in sockets:
        await s.wait("link.status working", lambda f: f.get("type") == "link.status"
                     and f["data"].get("status") == "working", 90)
    (service,) = docker("service", "ls", "-q", "--filter", f"label=puente.link={link_id}").split()[:1]
    node = docker("service", "ps", "--filter", "desired-state=running", "--format", "{{.Node}}", service)
    step(f"link {link_id} working as a Swarm service (on {node or 'its node'}); every socket told")

    text = f"Hola, ¿sigue disponible? {uuid.uuid4().hex[:6]}"
    phone("inbound", {"from": "34600000002@c.us", "body": text, "pushName": "Bea"})
    frames = [await s.wait("message.created", lambda f: f.get("type") == "message.created"
                           and f["data"]["message"].get("body") == text, 60) for s in sockets]
    conv = frames[0]["data"]["conversation_id"]
    step("a webhook received by one replica reached the sockets held by both")

    # Kill the replica that holds sockets[0] (any replica holds some: both do).
    replicas = service_containers(a.stack, "puente")
    assert len(replicas) == 2, f"expected 2 running Puente replicas, found {len(replicas)}"
    victim = replicas[0]
    docker("kill", "--signal", "KILL", victim)
    await asyncio.sleep(1.0)
    dropped = [i for i, s in enumerate(sockets) if s.task.done()]
    alive = [i for i, s in enumerate(sockets) if not s.task.done()]
    assert dropped, "killing a replica closed none of the sockets"
    assert alive, "killing one replica closed every socket"
    step(f"one replica killed: {len(dropped)} socket(s) dropped, {len(alive)} still open on the other")

    # While the dropped sockets are down, another message arrives.
    gap_text = f"¿Y el precio? {uuid.uuid4().hex[:6]}"
    phone("inbound", {"from": "34600000002@c.us", "body": gap_text, "pushName": "Bea"})
    for i in alive:
        await sockets[i].wait("the message sent during the failover", lambda f: f.get("type") == "message.created"
                              and f["data"]["message"].get("body") == gap_text, 60)

    resumed = []
    for i in dropped:
        had = seqs(sockets[i])
        since = max(had)
        deadline = time.monotonic() + 60
        while True:
            try:
                s = await open_socket(since)
                break
            except Exception as e:  # nginx may still try the dead replica for a moment
                if time.monotonic() > deadline:
                    raise AssertionError(f"could not reconnect through nginx: {e}")
                await asyncio.sleep(0.5)
        got = await s.wait("the missed message after resume", lambda f: f.get("type") == "message.created"
                           and f["data"]["message"].get("body") == gap_text, 60)
        replayed = seqs(s)
        assert replayed and min(replayed) > since, f"resume replayed {replayed[:5]}… after since={since}"
        assert got["seq"] in replayed
        copies = [f for f in s.frames if f.get("type") == "message.created"
                  and f["data"]["message"].get("body") == gap_text]
        assert len(copies) == 1, f"the missed message arrived {len(copies)} times"
        # No gap: every event a surviving socket saw after `since`, up to the missed message,
        # the resumed socket has too.
        alive_after = {q for q in seqs(sockets[alive[0]]) if since < q <= got["seq"]}
        missing = sorted(alive_after - set(replayed))
        assert not missing, f"resumed socket misses events {missing}"
        resumed.append(s)
    step(f"{len(resumed)} dropped socket(s) reconnected through nginx with `since`: the missed message exactly once, no gap")

    reply = "¡Hola Bea! Sí, sigue disponible."
    sent, _ = api.call("POST", f"/api/v1/conversations/{conv}/messages",
                       {"client_id": f"stack-{uuid.uuid4().hex[:8]}", "body": reply})
    await resumed[0].wait("reply sent", lambda f: f.get("type") == "message.updated"
                          and f["data"]["message"]["id"] == sent["id"]
                          and f["data"]["message"]["status"] in ("sent", "delivered", "read"), 60)
    assert any(reply in json.dumps(x, ensure_ascii=False) for x in phone("sent")), "the phone did not get the reply"
    step("the answer went out through the surviving replica and reached the phone")

    deadline = time.monotonic() + 120
    while len(service_containers(a.stack, "puente")) < 2:
        if time.monotonic() > deadline:
            raise AssertionError("Swarm did not replace the killed replica")
        await asyncio.sleep(1)
    step("Swarm started a new task for the killed replica (2 running again)")

    for s in sockets + resumed:
        if not s.task.done():
            await s.close()
    api.call("DELETE", f"/api/v1/whatsapp/links/{link_id}", expect=(200, 202, 204))
    deadline = time.monotonic() + 90
    while docker("service", "ls", "-q", "--filter", f"label=puente.instance={a.instance}"):
        if time.monotonic() > deadline:
            raise AssertionError("the link's service is still there after DELETE")
        time.sleep(0.5)
    step("link deleted: its service is gone")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except (AssertionError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or ""
        print(f"FAILED: {e} {detail}", file=sys.stderr)
        sys.exit(1)
