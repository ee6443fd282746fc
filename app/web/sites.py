"""The sites one app can serve. Every site has the whole API and Socket.IO (same origin for REST,
Socket.IO and pages, so no CORS); a page site also mounts its page router at `/`:
`api` (default port 3001, no pages), `status` (public status page, 3003), `console` (incident
console, 3005)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse

from app.status import cache
from app.status import views as status_views
from app.web import docs, static
from app.web.console.views import router as console_pages
from app.web.security import SecurityHeaders
from app.web.status import views as status_page_views
from app.web.status.views import router as status_pages
from app.web.templating import STATIC_DIR

SITES = ("api", "status", "console")
DEFAULT_PORTS = {"api": 3001, "status": 3003, "console": 3005}
PAGE_ROUTERS = {"status": status_pages, "console": console_pages}


def page_router(site: str) -> APIRouter | None:
    """The site's page router, or None for the API site."""
    if site not in SITES:
        raise ValueError(f"unknown site {site!r}: one of {', '.join(SITES)}")
    return PAGE_ROUTERS.get(site)


def install(app: FastAPI, site: str) -> None:
    """Mount the site's pages at `/`, the static files, and the security headers."""
    app.state.site = site
    router = page_router(site)
    if router is not None:
        app.include_router(router, include_in_schema=False)  # pages are not API operations
        if site == "status":
            # FastAPI tries the routes in order: the status site's one page (`/`, its busiest path)
            # goes first rather than after every API route (a fifth of a request's time at 400
            # concurrent readers). It takes no other path, so it shadows none. (Not the console:
            # its `/{incident_id}` would.)
            app.router.routes.insert(0, app.router.routes.pop())
    static.mount(app)
    if site == "api":  # the interactive API docs: not on the public status page or the console
        docs.install(app)

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:  # what browsers ask for when a document (a downloaded report) names no icon
        return FileResponse(
            STATIC_DIR / "favicon.svg", media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
        )

    # The status reads current in memory are answered ahead of routing (inside the security headers).
    resolvers: dict[str, cache.Resolver] = {"/api/system-status": status_views.from_memory}
    if site == "status":
        resolvers["/"] = status_page_views.from_memory
    app.add_middleware(cache.FromMemory, resolvers=resolvers)
    app.add_middleware(SecurityHeaders)
