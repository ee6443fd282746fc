"""Strings of the report and trends pages: the `reports.*` keys of the pages' catalogs
(frontend/i18n/reports.<lang>.json, loaded by app.web.i18n like every other area), as one dict per
language for the report templates (`t.key`), which also render outside any request (CLI, PDF).
The language is chosen by app.web.i18n.negotiate."""

from __future__ import annotations

from functools import lru_cache

from app.web.i18n import DEFAULT_LANGUAGE, LANGUAGES
from app.web.templating import translator


@lru_cache
def strings(language: str) -> dict[str, str]:
    return translator(language if language in LANGUAGES else DEFAULT_LANGUAGE).subset("reports.")


KO, EN = strings("ko"), strings("en")
