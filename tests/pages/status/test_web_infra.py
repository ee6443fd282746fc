"""The page infrastructure (app/web): sites, templates, translations, static files, security headers,
and the browser fixtures themselves."""

import json
import re

import httpx
import pytest
from fastapi import APIRouter, Request

from app.main import create_app
from app.web import i18n, sites
from app.web.templating import FRONTEND_DIR, I18N_DIR, environment, render, static_url
from tests.pages.conftest import assert_accessible, screenshots

# A literal key: t('a.b') or t('a.b', x=...); dynamic keys (t('a.' ~ x)) are checked by rendering.
TEMPLATE_KEY = re.compile(r"""\bt\(\s*['"]([a-z0-9_.-]+)['"]\s*[,)]""")


def test_every_language_has_every_key():
    catalogs = i18n.load_catalogs(I18N_DIR)
    keys = {lang: set(texts) for lang, texts in catalogs.items()}
    for lang in i18n.LANGUAGES:
        others = set().union(*(k for l2, k in keys.items() if l2 != lang))
        assert sorted(others - keys[lang]) == [], f"keys missing from the {lang!r} catalogs"


def test_every_literal_key_in_templates_exists():
    catalogs = i18n.load_catalogs(I18N_DIR)
    used = {
        (path.relative_to(FRONTEND_DIR), key)
        for path in FRONTEND_DIR.rglob("*.html")
        for key in TEMPLATE_KEY.findall(path.read_text(encoding="utf-8"))
    }
    assert used, "no t('...') found: the pattern is wrong"
    missing = [
        f"{path}: {key} ({lang})" for path, key in sorted(used) for lang in i18n.LANGUAGES if key not in catalogs[lang]
    ]
    assert missing == []


@pytest.mark.parametrize(
    "query, cookie, accept, expected",
    [
        (None, None, None, "ko"),
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "fr-FR, en;q=0.5, ko;q=0.8", "ko"),
        (None, None, "de, *;q=0.1", "ko"),
        (None, None, "en;q=abc, ko", "ko"),
        (None, None, "en;q=abc", "ko"),  # a malformed weight: the range is left out
        (None, None, "en;q=1.5, ko;q=0.1", "ko"),  # qvalue is at most 1 (RFC 9110 §12.4.2)
        (None, None, "en;q=0.0001", "ko"),  # at most three decimals
        (None, None, "en;Q=0.9, ko;q=0.5", "en"),  # "q" in any case
        (None, None, "en ; q=0.9 , ko;q=0.5", "en"),  # optional white space around ";" and ","
        (None, None, "en;q=nan, en;q=inf, ko", "ko"),
        (None, None, "ko;q=0, en;q=0.1", "en"),  # weight 0: not acceptable
        (None, None, "ko;q=0, *", "en"),  # "*": the languages not named
        (None, None, "ko;q=0", "en"),  # Korean refused, English not: English, not the refused default
        (None, None, "ko;q=0, fr", "en"),
        (None, None, "en;q=0", "ko"),
        (None, None, "ko;q=0, en;q=0", "ko"),  # everything refused: the header is disregarded (§12.5.4)
        (None, None, "*;q=0", "ko"),
        (None, None, "en-US;level=1, ko;q=0.5", "ko"),  # Accept-Language ranges take no other parameter
        (None, None, ",, en ,", "en"),  # empty list elements are ignored (§5.6.1)
        (None, None, ", ".join(["fr"] * 30 + ["en"]), "ko"),  # only the first 20 ranges are read
        ("EN", None, "ko", "en"),
        (None, "en", "ko", "en"),
        ("ko", "en", "en", "ko"),
        ("xx", None, "en", "en"),
        (None, "zz", None, "ko"),
    ],
)
def test_language_negotiation(query, cookie, accept, expected):
    assert i18n.negotiate(query, cookie, accept) == expected


def test_translator_fills_params_and_is_strict_in_tests(tmp_path):
    (tmp_path / "demo.ko.json").write_text(json.dumps({"hello": {"name": "안녕, {name}"}}), encoding="utf-8")
    (tmp_path / "demo.en.json").write_text(json.dumps({"hello": {"name": "Hi, {name}"}}), encoding="utf-8")
    catalogs = i18n.load_catalogs(tmp_path)
    assert i18n.Translator("en", catalogs)("demo.hello.name", name="<b>") == "Hi, <b>"
    with pytest.raises(i18n.MissingTranslation):
        i18n.Translator("en", catalogs)("demo.nope")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("demo.fr.json", "{}", "demo.fr.json: name it"),
        ("demo.ko.json", "{", "demo.ko.json: invalid JSON"),
        ("demo.ko.json", "[]", "demo.ko.json: the top level must be an object"),
        ("demo.ko.json", '{"a": {"b": 3}}', "demo.ko.json: demo.a.b must be a string"),
    ],
)
def test_bad_catalog_files_are_named(tmp_path, name, content, message):
    (tmp_path / name).write_text(content, encoding="utf-8")
    with pytest.raises(i18n.CatalogError, match=re.escape(message)):
        i18n.load_catalogs(tmp_path)


def test_templates_escape_user_text():
    html = environment().from_string("{{ x }}").render(x="<script>alert(1)</script>")
    assert html == "&lt;script&gt;alert(1)&lt;/script&gt;"
    data = environment().from_string("{{ x | json_script }}").render(x={"a": "</script><!--"})
    assert "</script>" not in data and "<!--" not in data and json.loads(data) == {"a": "</script><!--"}


def test_unknown_site_is_refused():
    with pytest.raises(ValueError, match="unknown site 'nope'"):
        sites.page_router("nope")


def add_demo_page(app):
    """A test page rendering the base layout with the live module (the real pages have their own tests)."""
    router = APIRouter()

    @router.get("/demo")
    async def demo(request: Request):
        return render(request, "testing/demo.html")

    app.include_router(router)


def demo_app(settings, pool):
    app = create_app(settings, site="api")
    app.state.pool = pool
    add_demo_page(app)
    return app


@pytest.fixture
def demo_template():
    path = FRONTEND_DIR / "testing" / "demo.html"
    assert path.exists()
    return path


async def test_pages_get_strict_headers_and_language(settings, pool, demo_template):
    app = demo_app(settings, pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/demo")
        assert r.status_code == 200
        assert r.headers["content-language"] == "ko" and '<html lang="ko">' in r.text
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        assert "set-cookie" not in r.headers

        r = await client.get("/demo?lang=en")
        assert '<html lang="en">' in r.text and "lang=en" in r.headers["set-cookie"]
        assert '<html lang="en">' in (await client.get("/demo")).text  # remembered in the cookie
        client.cookies.clear()
        r = await client.get("/demo", headers={"Accept-Language": "en-GB,en;q=0.9"})
        assert '<html lang="en">' in r.text
        r = await client.get("/demo?lang=%00%ff&x=<b>")
        assert r.status_code == 200 and '<html lang="ko">' in r.text and "<b>" not in r.text


async def test_static_files_are_cache_busted(settings, pool):
    app = demo_app(settings, pool)
    url = static_url("base.css")
    assert re.fullmatch(r"/static/base\.css\?v=[0-9a-f]{12}", url)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get(url)
        assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
        assert r.headers["content-security-policy"]
        r = await client.get("/static/base.css")
        assert r.headers["cache-control"] == "no-cache"
        assert (await client.get("/static/vendor/socket.io-4.8.4.esm.min.js")).status_code == 200
        r = await client.get("/static/../app/config.py")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    with pytest.raises(FileNotFoundError):
        static_url("nope.css")
    with pytest.raises(FileNotFoundError):
        static_url("../base.html")


async def test_api_docs_keep_working(settings, pool):
    app = demo_app(settings, pool)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/docs")
        # vendored Swagger UI under a policy of its own (tests/pages/test_api_docs.py), no longer a CDN's
        assert r.status_code == 200 and "script-src 'self';" in r.headers["content-security-policy"]
        assert "/static/vendor/swagger-ui-" in r.text and "cdn." not in r.text


async def test_base_layout_in_a_real_browser(live_server, new_page, demo_template):
    """The layout passes axe, the skip link moves focus to main, the live module connects."""
    async with live_server("api", setup=add_demo_page) as base:
        page = await new_page(width=375)
        await page.goto(base + "/demo?lang=en")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement.className") == "skip-link"
        await page.keyboard.press("Enter")
        assert await page.evaluate("document.activeElement.id") == "main"
        await page.wait_for_selector('.live-state[data-state="live"]', timeout=10_000)
        assert await page.text_content(".live-state") == "Live updates on"
        await assert_accessible(page)
        paths = await screenshots(page, "base-layout")
        assert all(p.stat().st_size > 1000 for p in paths)
