"""Real local servers for the prober tests: a well-behaved HTTP app, hostile raw TCP servers, a TLS
server with a certificate made by the test, and a pausable TCP proxy (to cut PostgreSQL off)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import subprocess
from pathlib import Path

from aiohttp import web


def make_cert(directory: Path, days: int = 30) -> tuple[Path, Path]:
    """A self-signed certificate for localhost/127.0.0.1 via the openssl CLI."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            str(days),
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def app() -> web.Application:
    async def ok(request):
        return web.json_response({"status": "ok", "data": {"items": [{"state": "ready", "count": 3}]}})

    async def status(request):
        return web.Response(status=int(request.match_info["code"]), text="status")

    async def text(request):
        return web.Response(text="all systems nominal")

    async def echo(request):
        body = await request.text()
        return web.json_response({"method": request.method, "body": body, "token": request.headers.get("X-Token")})

    async def redirect(request):
        hops = int(request.match_info["n"])
        location = "/ok" if hops <= 1 else f"/redirect/{hops - 1}"
        raise web.HTTPFound(location)

    async def redirect_to(request):
        raise web.HTTPFound(request.query["url"])

    async def sleep(request):
        await asyncio.sleep(float(request.query.get("s", "1")))
        return web.json_response({"status": "ok"})

    application = web.Application()
    application.router.add_get("/ok", ok)
    application.router.add_get("/text", text)
    application.router.add_get("/status/{code}", status)
    application.router.add_route("*", "/echo", echo)
    application.router.add_get("/redirect/{n}", redirect)
    application.router.add_get("/redirect-to", redirect_to)
    application.router.add_get("/sleep", sleep)
    return application


async def start_app(
    application: web.Application, ssl_context: ssl.SSLContext | None = None
) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]


# -- hostile raw servers ------------------------------------------------------------------------


async def _silent(reader, writer):
    await reader.read(65536)
    await asyncio.sleep(3600)


async def _drip(reader, writer):
    await reader.read(65536)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
    while True:
        writer.write(b"x")
        await writer.drain()
        await asyncio.sleep(0.1)


async def _drip_headers(reader, writer):
    await reader.read(65536)
    writer.write(b"HTTP/1.1 200 OK\r\n")
    while True:
        writer.write(b"X-Slow: y\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)


async def _huge(reader, writer):
    await reader.read(65536)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (10 * 1024**3))
    chunk = b"z" * 65536
    with contextlib.suppress(ConnectionError):
        for _ in range(10 * 1024**3 // len(chunk)):
            writer.write(chunk)
            await writer.drain()


async def _reset(reader, writer):
    await reader.read(65536)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _garbage(reader, writer):
    await reader.read(65536)
    writer.write(b"\x16\x03\x01 this is not HTTP at all \x00\xff\r\n\r\n")
    await writer.drain()
    writer.close()


async def _reset_mid_body(reader, writer):
    await reader.read(65536)
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial")
    await writer.drain()
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


HOSTILE = {
    "silent": _silent,
    "drip": _drip,
    "drip_headers": _drip_headers,
    "huge": _huge,
    "reset": _reset,
    "garbage": _garbage,
    "reset_mid_body": _reset_mid_body,
}


async def start_raw(handler) -> tuple[asyncio.AbstractServer, int]:
    async def quietly(reader, writer):
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await handler(reader, writer)

    server = await asyncio.start_server(quietly, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proxy:
    """A TCP proxy in front of a real server; `down()` closes the listener and cuts every connection."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = closed_port()
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _handle(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src, dst):
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}
