"""Realtime fan-out latency: from sending an incident update (POST /api/incidents/{id}/updates, which
commits, then emits through Redis) to the `incident-updated` event decoded at each of N connected
clients in the `incidents` room. Prints ONE JSON line.

A setup is `CLIENT_KIND/API_PROCS`:
- client kind `socketio`: full python-socketio `AsyncClient`s (aiohttp websocket, engine.io and
  socket.io client layers, an event handler per event);
- client kind `raw`: the same aiohttp websocket per client speaking the Engine.IO 4 / Socket.IO 5 text
  protocol directly (open, connect, join-room with its ack, ping/pong, every event frame JSON-decoded),
  on uvloop: a lighter client, so that fewer of the 2 cores go to the clients. `--deflate` makes raw
  clients offer permessage-deflate, as browsers do, and the API accept it (`slamon api --ws-deflate`);
- API_PROCS `slamon api` processes (replicas fanning out through Redis), run from this checkout or
  from `--api-root` (an older version, same clients); client i connects to process i mod API_PROCS;
  the update is always sent to process 0.
Clients run in CLIENT_PROCS processes. Latency = arrival at the client - moment the HTTP request was
sent (an upper bound of commit -> receive); the same clock, one machine. CPU per event: user+system
time of the API processes and of the client processes over the rounds (/proc), divided by rounds.

    python benchmarks/bench_realtime.py [--sizes 1,100,1000] [--rounds 20] [--setups socketio/1,raw/1,raw/2]
                                        [--client-procs 2] [--ws websockets-sansio] [--deflate] [--api-root DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PASSWORD = "bench password 123"
JOIN = '420["join-room",{"room":"incidents"}]'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(arrivals: dict[int, list[float]], event: str, data) -> None:
    if event == "incident-updated" and isinstance(data, dict) and data.get("incident"):
        arrivals.setdefault(data["incident"]["version"], []).append(time.time())


async def socketio_clients(urls: list[str], arrivals: dict, _deflate: bool) -> list:
    """Full python-socketio clients, one per url."""
    import socketio

    gate = asyncio.Semaphore(50)

    async def one(url):
        sio = socketio.AsyncClient(reconnection=False)
        sio.on("incident-updated", lambda data: record(arrivals, "incident-updated", data))
        async with gate:
            await sio.connect(url, transports=["websocket"], wait_timeout=30)
            await sio.call("join-room", {"room": "incidents"}, timeout=30)
        return sio

    clients = await asyncio.gather(*(one(url) for url in urls))
    return [c.disconnect for c in clients]


async def raw_client(session, url: str, arrivals: dict, joined: asyncio.Future, deflate: bool) -> None:
    """One Socket.IO client on the bare protocol: every frame read, every event JSON-decoded."""
    import aiohttp

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with session.ws_connect(ws_url, compress=15 if deflate else 0, autoping=True) as ws:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            text = message.data
            if text.startswith("42"):
                event, data = json.loads(text[2:])
                record(arrivals, event, data)
            elif text == "2":
                await ws.send_str("3")
            elif text.startswith("0"):
                await ws.send_str("40")
            elif text.startswith("40"):
                await ws.send_str(JOIN)
            elif text.startswith("430") and not joined.done():
                joined.set_result(json.loads(text[3:])[0]["ok"])


async def raw_clients(urls: list[str], arrivals: dict, deflate: bool) -> list:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    gate = asyncio.Semaphore(50)
    tasks = []

    async def one(url):
        async with gate:
            joined = asyncio.get_running_loop().create_future()
            tasks.append(asyncio.create_task(raw_client(session, url, arrivals, joined, deflate)))
            if not await asyncio.wait_for(joined, 30):
                raise RuntimeError("join-room refused")

    await asyncio.gather(*(one(url) for url in urls))

    async def stop():
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await session.close()

    return [stop]


async def client_worker(kind: str, urls: list[str], deflate: bool) -> None:
    """Child process: connect the clients, say ready, record arrival times until told to stop."""
    arrivals: dict[int, list[float]] = {}
    closers = await (raw_clients if kind == "raw" else socketio_clients)(urls, arrivals, deflate)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(json.dumps({str(k): v for k, v in arrivals.items()}), flush=True)
    await asyncio.gather(*(close() for close in closers), return_exceptions=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_clients(kind: str, urls: list[str], n: int, procs: int, deflate: bool) -> list[subprocess.Popen]:
    targets = [urls[i % len(urls)] for i in range(n)]
    shares = [targets[i::procs] for i in range(procs)]
    workers = [
        subprocess.Popen(
            [sys.executable, __file__, *(["--deflate"] if deflate else []), "--client", kind, *share],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for share in shares
        if share
    ]
    for worker in workers:
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError("client worker failed to connect")
    return workers


async def send_updates(
    url: str, token: str, n: int, rounds: int, watched: list[int], cpu: dict[int, float]
) -> dict[int, float]:
    """Create an incident, post `rounds` updates to it; returns version -> time the request was sent."""
    import httpx

    sent: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        incident = (await http.post("/api/incidents", json={"title": f"bench {n}", "severity": "low"})).json()[
            "incident"
        ]
        await asyncio.sleep(0.5)
        version = incident["version"]
        cpu.update({pid: -cpu_s(pid) for pid in watched})
        for i in range(rounds):
            t0 = time.time()
            r = await http.post(
                f"/api/incidents/{incident['id']}/updates", json={"description": f"round {i}", "version": version}
            )
            version = r.json()["incident"]["version"]
            sent[version] = t0
            await asyncio.sleep(0.25 + n / 2000)
        await asyncio.sleep(1.0)
        cpu.update({pid: cpu[pid] + cpu_s(pid) for pid in watched})
        await http.delete(f"/api/incidents/{incident['id']}")
    return sent


async def measure(servers: list, token: str, setup: dict, n: int, rounds: int) -> dict:
    urls = [url for url, _ in servers]
    workers = start_clients(setup["clients"], urls, n, setup["client_procs"], setup["deflate"])
    cpu: dict[int, float] = {}
    sent = await send_updates(urls[0], token, n, rounds, [p.pid for _, p in servers] + [w.pid for w in workers], cpu)
    latencies = []
    for worker in workers:
        out, _ = worker.communicate("stop\n", timeout=120)
        for version, times in json.loads(out.strip().splitlines()[-1]).items():
            if int(version) in sent:
                latencies += [(t - sent[int(version)]) * 1000 for t in times]
    api_cpu = sum(cpu[p.pid] for _, p in servers)
    client_cpu = sum(cpu[w.pid] for w in workers)
    return {
        "clients": n,
        "rounds": rounds,
        "deliveries": len(latencies),
        "expected": n * rounds,
        "p50_ms": round(percentile(latencies, 0.5), 1),
        "p99_ms": round(percentile(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "api_cpu_ms_per_event": round(api_cpu / rounds * 1000, 1),
        "client_cpu_ms_per_event": round(client_cpu / rounds * 1000, 1),
    }


async def make_admin(database_url: str) -> tuple[str, str]:
    import asyncpg

    from app.users import service
    from app.users.models import UserCreate

    username = f"bench-{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(database_url)
    try:
        user = await service.create(conn, UserCreate(username=username, role="admin", password=PASSWORD), None)
    finally:
        await conn.close()
    return username, user["id"]


async def drop_user(database_url: str, user_id: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM users WHERE id = $1::uuid", user_id)
    finally:
        await conn.close()


def start_api(setup: dict) -> tuple[str, subprocess.Popen]:
    """One `slamon api` process, from this checkout or from `--api-root` (an older version)."""
    port = free_port()
    options = [
        *(["--ws", setup["ws"]] if setup["ws"] != "auto" else []),
        *(["--ws-deflate"] if setup["deflate"] else []),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "api", "--port", str(port), *options],
        cwd=setup["api_root"],
        env=os.environ.copy(),
    )
    return f"http://127.0.0.1:{port}", process


async def wait_healthy(url: str) -> None:
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        for _ in range(600):
            try:
                if (await http.get("/api/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"API at {url} did not start")


async def run_setup(setup: dict, sizes: list[int], rounds: int, username: str) -> dict:
    import httpx

    servers = [start_api(setup) for _ in range(setup["api_procs"])]
    try:
        for url, _ in servers:
            await wait_healthy(url)
        async with httpx.AsyncClient(base_url=servers[0][0], timeout=30) as http:
            token = (await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})).json()[
                "access_token"
            ]
        results = []
        for n in sizes:
            print(f"[{time.strftime('%H:%M:%S')}] {setup['name']}: {n} clients", file=sys.stderr, flush=True)
            results.append(await measure(servers, token, setup, n, rounds))
    finally:
        for _, process in servers:
            process.terminate()
        for _, process in servers:
            process.wait(timeout=20)
    return {**setup, "results": results}


async def main(args) -> dict:
    from app.config import get_settings

    settings = get_settings()
    username, user_id = await make_admin(settings.database_url)
    load_before = [round(x, 2) for x in os.getloadavg()]
    rows = []
    try:
        for name in args.setups.split(","):
            kind, _, api_procs = name.partition("/")
            setup = {
                "name": name,
                "clients": kind,
                "api_procs": int(api_procs or 1),
                "client_procs": args.client_procs,
                "ws": args.ws,
                "deflate": args.deflate,
                "api_root": args.api_root,
            }
            rows.append(await run_setup(setup, [int(s) for s in args.sizes.split(",")], args.rounds, username))
    finally:
        await drop_user(settings.database_url, user_id)
    at_1000 = [r["p99_ms"] for row in rows for r in row["results"] if r["clients"] == 1000]
    return {
        "benchmark": "realtime_fanout",
        "path": "POST /api/incidents/{id}/updates -> commit -> Redis -> incident-updated decoded at every client",
        "setups": rows,
        "goal": "p99 < 250 ms at 1000 clients",
        "goal_met_by": [
            row["name"] for row in rows for r in row["results"] if r["clients"] == 1000 and r["p99_ms"] < 250
        ]
        if at_1000
        else None,
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", nargs="+", metavar=("KIND", "URL"))
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="raw clients offer permessage-deflate (as browsers do) and the API accepts it",
    )
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--setups", default="socketio/1,raw/1,raw/2", help="CLIENT_KIND/API_PROCS, comma-separated")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--ws", default="auto", help="`slamon api --ws`: uvicorn's WebSocket implementation")
    parser.add_argument(
        "--api-root",
        default=str(ROOT),
        help="checkout the API processes run from (default: this one; another measures an older server)",
    )
    args = parser.parse_args()
    if args.client:
        import uvloop

        run = uvloop.run if args.client[0] == "raw" else asyncio.run
        run(client_worker(args.client[0], args.client[1:], args.deflate))
    else:
        print(json.dumps(asyncio.run(main(args))))
