"""Fixtures of the prober tests: local targets on 127.0.0.1, a shared probe context, test services."""

from __future__ import annotations

import json
import ssl

import pytest

from app.services import queries as service_queries
from prober.client import ProbeContext
from prober.models import Target
from tests.prober import servers


@pytest.fixture(scope="session")
async def web_port():
    runner, port = await servers.start_app(servers.app())
    yield port
    await runner.cleanup()


@pytest.fixture(scope="session")
def cert(tmp_path_factory):
    return servers.make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="session")
async def tls_port(cert):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*cert)
    runner, port = await servers.start_app(servers.app(), context)
    yield port
    await runner.cleanup()


@pytest.fixture(scope="session")
async def hostile_ports():
    started = {name: await servers.start_raw(handler) for name, handler in servers.HOSTILE.items()}
    yield {name: port for name, (_, port) in started.items()}
    for server, _ in started.values():
        server.close()


@pytest.fixture(scope="session")
async def ctx():
    context = ProbeContext()
    yield context
    await context.close()


def target(url: str, kind: str = "http", **fields) -> Target:
    """A target on loopback (allowed explicitly, as services.toml does for the demo)."""
    fields.setdefault("allow_private", True)
    check = fields.pop("check", None)
    if check is not None:
        from app.services.models import CheckConfig

        fields["check"] = CheckConfig.model_validate(check)
    return Target(service_id=fields.pop("service_id", "t"), kind=kind, url=url, **fields)


async def add_services(conn, service_ids: list[str], url: str = "http://127.0.0.1:1/") -> None:
    """Make ids known to the ingest (the services table); intervals in tests come from Target overrides."""
    for position, service_id in enumerate(service_ids):
        await conn.fetchrow(
            service_queries.UPSERT,
            service_id,
            service_id,
            "",
            "http",
            url,
            60,
            30,
            7000,
            "developer",
            json.dumps({}),
            True,
            100 + position,
        )
