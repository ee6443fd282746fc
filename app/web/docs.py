"""/docs (Swagger UI) and /redoc (ReDoc) from vendored, versioned copies under frontend/static/vendor/
(no CDN: they work offline and load only what this repository ships), on the API site only. Both draw
their styles from script, so their policy allows inline styles; scripts stay this origin's files."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from markupsafe import escape

from app.web.security import CONTENT_SECURITY_POLICY
from app.web.templating import static_url

SWAGGER_UI = "vendor/swagger-ui-5.35.0"
REDOC = "vendor/redoc-2.5.4"
# ReDoc's search runs in a worker it builds from a blob: URL.
DOCS_POLICY = (
    CONTENT_SECURITY_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    + "; worker-src 'self' blob:"
)
HEADERS = {"Content-Security-Policy": DOCS_POLICY, "Cache-Control": "no-cache"}


def _page(title: str, head: str, body: str) -> HTMLResponse:
    html = (
        f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{escape(title)}</title>\n'
        f'<link rel="icon" href="/favicon.ico">\n{head}</head>\n<body>\n{body}</body>\n</html>\n'
    )
    return HTMLResponse(html, headers=HEADERS)


def install(app: FastAPI) -> None:
    openapi_url = escape(app.openapi_url or "/openapi.json")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return _page(
            f"{app.title} - Swagger UI",
            f'<link rel="stylesheet" href="{static_url(SWAGGER_UI + "/swagger-ui.css")}">\n',
            f'<div id="swagger-ui" data-openapi-url="{openapi_url}"></div>\n'
            f'<script src="{static_url(SWAGGER_UI + "/swagger-ui-bundle.js")}"></script>\n'
            f'<script src="{static_url("docs/swagger-init.js")}"></script>\n',
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return _page(
            f"{app.title} - ReDoc",
            "",
            f'<redoc spec-url="{openapi_url}"></redoc>\n'
            f'<script src="{static_url(REDOC + "/redoc.standalone.js")}"></script>\n',
        )
