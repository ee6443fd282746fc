"""Load shedding against real servers on loopback: at most max_concurrent requests run, at most
max_queued wait (each at most queue_wait_s), the rest get 503 + Retry-After at once; health checks
always answer. No timing is asserted: the order in which answers arrive is."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import uvicorn

from app.load import LoadShedding
from app.main import create_app
from tests.app.test_redteam import slamon_api
from tests.conftest import free_port


@asynccontextmanager
async def serve(settings, **overrides):
    """The real app with a /test/hold route that answers once `release` is set; yields (base, state)."""
    app = create_app(settings.model_copy(update=overrides))
    state = {"release": asyncio.Event(), "entered": 0}

    @app.get("/test/hold")
    async def hold():
        state["entered"] += 1
        await state["release"].wait()
        return {"held": True}

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    layer = app.middleware_stack  # built by the lifespan call
    while not isinstance(layer, LoadShedding):
        layer = layer.app
    state["shedder"] = layer
    try:
        yield f"http://127.0.0.1:{server.config.port}", state
    finally:
        state["release"].set()
        server.should_exit = True
        await task


async def _until(condition, what: str, timeout_s: float = 60) -> None:
    for _ in range(int(timeout_s / 0.02)):
        if await condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


async def test_excess_requests_are_refused_at_once_and_queued_ones_get_their_turn(settings):
    async with (
        serve(settings, max_concurrent_requests=2, max_queued_requests=2, queue_wait_s=60) as (base, state),
        httpx.AsyncClient(base_url=base, timeout=120) as http,
    ):
        running = [asyncio.create_task(http.get("/test/hold")) for _ in range(2)]

        async def both_running():
            return state["entered"] == 2

        await _until(both_running, "two requests in progress")
        queued = [asyncio.create_task(http.get("/test/hold")) for _ in range(2)]

        async def queue_full():
            return state["shedder"].queued == 2

        await _until(queue_full, "two requests queued")
        response = await http.get("/api/services")  # the queue is full: turned away
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert response.json()["error"] == "overloaded" and "2 waiting" in response.json()["message"]
        assert (await http.get("/api/health")).status_code == 200  # never counted
        assert not any(t.done() for t in running + queued) and state["entered"] == 2
        state["release"].set()
        assert [r.status_code for r in await asyncio.gather(*running, *queued)] == [200] * 4
        assert state["entered"] == 4  # the queued requests had their turn
        assert (await http.get("/api/services")).status_code == 200


async def test_a_queued_request_waits_at_most_queue_wait_s(settings):
    async with (
        serve(settings, max_concurrent_requests=1, max_queued_requests=5, queue_wait_s=0.5) as (base, state),
        httpx.AsyncClient(base_url=base, timeout=120) as http,
    ):
        running = asyncio.create_task(http.get("/test/hold"))

        async def one_running():
            return state["entered"] == 1

        await _until(one_running, "one request in progress")
        response = await http.get("/api/services")  # waits its turn, which does not come
        assert response.status_code == 503 and "no turn within 0.5 s" in response.json()["message"]
        assert not running.done()
        state["release"].set()
        assert (await running).status_code == 200
        assert (await http.get("/api/services")).status_code == 200  # the slot was given back


async def test_a_crowd_on_a_page_gets_fast_503s_not_a_hang(staff_db, database_url, tmp_path):
    """Many concurrent clients on a page of the status site (`slamon api --site status`): the excess is
    refused with Retry-After before the admitted pages are done, and health answers throughout. (The
    status page itself is served from memory, one build per change, and is not shed: the next test.)"""
    limits = {"SLAMON_MAX_CONCURRENT_REQUESTS": "2", "SLAMON_MAX_QUEUED_REQUESTS": "2", "SLAMON_QUEUE_WAIT_S": "2"}
    async with (
        slamon_api(database_url, tmp_path, site="status", **limits) as base,
        httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=100)) as http,
    ):
        answered: list[httpx.Response] = []

        async def visit() -> httpx.Response:
            response = await http.get("/reports?lang=en")
            answered.append(response)
            return response

        crowd = [asyncio.create_task(visit()) for _ in range(60)]
        health = await http.get("/api/health")
        results = await asyncio.gather(*crowd)
    assert health.status_code == 200
    statuses = [r.status_code for r in results]
    assert set(statuses) <= {200, 503} and statuses.count(200) >= 1 and statuses.count(503) >= 1, statuses
    assert all(r.headers["retry-after"] == "1" for r in results if r.status_code == 503)
    first_refusal = next(i for i, r in enumerate(answered) if r.status_code == 503)
    last_page = max(i for i, r in enumerate(answered) if r.status_code == 200)
    assert first_refusal < last_page  # refused at once, not after the pages ahead of it were served


async def test_a_crowd_on_the_status_page_is_served_from_memory(staff_db, database_url, tmp_path):
    """The same crowd and limits on the status page and its JSON: every reader gets the page (built
    once per change and kept, app/status/cache.py), none is refused."""
    limits = {"SLAMON_MAX_CONCURRENT_REQUESTS": "2", "SLAMON_MAX_QUEUED_REQUESTS": "2", "SLAMON_QUEUE_WAIT_S": "2"}
    async with (
        slamon_api(database_url, tmp_path, site="status", **limits) as base,
        httpx.AsyncClient(base_url=base, timeout=120, limits=httpx.Limits(max_connections=100)) as http,
    ):
        for path in ("/?lang=en", "/api/system-status"):
            results = await asyncio.gather(*(http.get(path) for _ in range(60)))
            assert [r.status_code for r in results] == [200] * 60, path
            assert all(r.headers["etag"] for r in results), path
