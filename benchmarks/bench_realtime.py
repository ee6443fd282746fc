"""Realtime fan-out latency: from sending an incident update (POST /api/incidents/{id}/updates, which
commits, then emits through Redis) to the `incident-updated` event arriving at each of N connected
python-socketio clients in the `incidents` room. One API process (uvicorn subprocess, free port);
clients spread over CLIENT_PROCS processes. Baseline in the same run: N = 1. Prints ONE JSON line.

    python benchmarks/bench_realtime.py [--sizes 1,100,1000] [--rounds 20]
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
CLIENT_PROCS = 2
PASSWORD = "bench password 123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def client_worker(url: str, count: int) -> None:
    """Child process: connect `count` clients, say ready, record arrival times until told to stop."""
    import socketio

    arrivals: dict[int, list[float]] = {}
    clients = []
    gate = asyncio.Semaphore(50)

    async def one():
        sio = socketio.AsyncClient(reconnection=False)

        @sio.on("incident-updated")
        async def _updated(data):
            if data.get("incident"):
                arrivals.setdefault(data["incident"]["version"], []).append(time.time())

        async with gate:
            await sio.connect(url, transports=["websocket"], wait_timeout=30)
            await sio.call("join-room", {"room": "incidents"}, timeout=30)
        clients.append(sio)

    await asyncio.gather(*(one() for _ in range(count)))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    print(json.dumps({str(k): v for k, v in arrivals.items()}), flush=True)
    await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(url: str, token: str, n: int, rounds: int) -> dict:
    import httpx

    per_proc = [n // CLIENT_PROCS + (1 if i < n % CLIENT_PROCS else 0) for i in range(CLIENT_PROCS)]
    procs = [subprocess.Popen([sys.executable, __file__, "--client", url, str(c)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, cwd=ROOT) for c in per_proc if c]
    for p in procs:
        if p.stdout.readline().strip() != "ready":
            raise RuntimeError("client worker failed to connect")
    headers = {"Authorization": f"Bearer {token}"}
    sent: dict[int, float] = {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        incident = (await http.post("/api/incidents", json={"title": f"bench {n}", "severity": "low"})).json()["incident"]
        await asyncio.sleep(0.5)
        version = incident["version"]
        for i in range(rounds):
            t0 = time.time()
            r = await http.post(f"/api/incidents/{incident['id']}/updates",
                                json={"description": f"round {i}", "version": version})
            version = r.json()["incident"]["version"]
            sent[version] = t0
            await asyncio.sleep(0.25 + n / 2000)
        await asyncio.sleep(1.0)
        await http.delete(f"/api/incidents/{incident['id']}")
    latencies, received = [], 0
    for p in procs:
        out, _ = p.communicate("stop\n", timeout=120)
        arrivals = json.loads(out.strip().splitlines()[-1])
        for version, times in arrivals.items():
            if int(version) in sent:
                received += len(times)
                latencies += [(t - sent[int(version)]) * 1000 for t in times]
    return {"clients": n, "rounds": rounds, "deliveries": received, "expected": n * rounds,
            "p50_ms": round(percentile(latencies, 0.5), 1), "p99_ms": round(percentile(latencies, 0.99), 1),
            "max_ms": round(max(latencies), 1), "mean_ms": round(statistics.fmean(latencies), 1)}


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


async def main(sizes: list[int], rounds: int) -> dict:
    import httpx

    from app.config import get_settings

    settings = get_settings()
    username, user_id = await make_admin(settings.database_url)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
                               "--log-level", "warning", "--ws", "websockets"], cwd=ROOT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=5) as http:
            for _ in range(300):
                try:
                    if (await http.get("/api/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            token = (await http.post("/api/auth/login", json={"username": username, "password": PASSWORD})).json()[
                "access_token"]
        results = [await measure(url, token, n, rounds) for n in sizes]
    finally:
        server.terminate()
        server.wait(timeout=20)
        await drop_user(settings.database_url, user_id)
    by_size = {r["clients"]: r for r in results}
    return {"benchmark": "realtime_fanout", "path": "POST /api/incidents/{id}/updates -> commit -> Redis -> "
            "incident-updated at every client", "api_processes": 1, "client_processes": CLIENT_PROCS,
            "baseline_n1": by_size.get(1), "results": [r for r in results if r["clients"] != 1],
            "goal": "p99 < 250 ms at 1000 clients",
            "goal_met": by_size[1000]["p99_ms"] < 250 if 1000 in by_size else None}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--client", nargs=2, metavar=("URL", "COUNT"))
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if args.client:
        asyncio.run(client_worker(args.client[0], int(args.client[1])))
    else:
        print(json.dumps(asyncio.run(main([int(s) for s in args.sizes.split(",")], args.rounds))))
