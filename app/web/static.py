"""Static files under /static/ with cache-busting: a URL carrying `?v=<hash>` (templating.static_url)
is cached for a year as immutable; any other revalidates every time (ETag, 304)."""

from __future__ import annotations

import os

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

from app.web.templating import static_roots

IMMUTABLE = "public, max-age=31536000, immutable"


class CachedStaticFiles(StaticFiles):
    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = IMMUTABLE if versioned else "no-cache"
        return response


def mount(app: FastAPI) -> None:
    """Each static root at its URL prefix, the most specific first."""
    for prefix, folder in static_roots().items():
        app.mount(prefix, CachedStaticFiles(directory=folder), name=f"static{prefix.replace('/', ':')}")
