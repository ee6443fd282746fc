"""The sites one app can serve. Every site has the whole API and Socket.IO (same origin for REST,
Socket.IO and pages, so no CORS); a page site also mounts its page router at `/`:
`api` (default port 3001, no pages), `status` (public status page, 3003), `console` (incident
console, 3005, app/web/console/views.py when present)."""

from __future__ import annotations

import importlib

from fastapi import FastAPI
from fastapi.responses import FileResponse

from app.web import static
from app.web.security import SecurityHeaders
from app.web.templating import STATIC_DIR

SITES = ("api", "status", "console")
DEFAULT_PORTS = {"api": 3001, "status": 3003, "console": 3005}
PAGE_ROUTERS = {"status": "app.web.status.views", "console": "app.web.console.views"}


def page_router(site: str):
    """The site's page router, or None for the API site or a site whose module is not (yet) written."""
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}: one of {', '.join(SITES)}")
    module_name = PAGE_ROUTERS.get(site)
    if module_name is None:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if not module_name.startswith(exc.name or "\0"):
            raise  # a missing dependency inside the module, not the module itself
        return None
    return module.router


def install(app: FastAPI, site: str) -> None:
    """Mount the site's pages at `/`, the static files, and the security headers."""
    app.state.site = site
    router = page_router(site)
    if router is not None:
        app.include_router(router, include_in_schema=False)  # pages are not API operations
    static.mount(app)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():  # what browsers ask for when a document (a downloaded report) names no icon
        return FileResponse(
            STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    app.add_middleware(SecurityHeaders)
