"""Translations for the pages: Korean by default (the PRD's language), English on request.

Catalogs are JSON files `frontend/i18n/<area>.<lang>.json`, one per area (common, status, console,
...), nested objects whose keys are prefixed by the area: `status.ko.json` {"banner": {"ok": ...}}
gives the key `status.banner.ok`. All files of a language merge into one catalog at load.
The language of a request: `?lang=` > the `lang` cookie > Accept-Language > Korean.
"""
from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

LANGUAGES = ("ko", "en")
DEFAULT_LANGUAGE = "ko"
LANG_COOKIE = "lang"
CATALOG_FILE = re.compile(r"^(?P<area>[a-z][a-z0-9_-]*)\.(?P<lang>[a-z]{2})\.json$")
# Tests turn this on: a missing key then raises instead of falling back (see tests/pages/conftest.py).
strict = False


class CatalogError(ValueError):
    """A catalog file that cannot be used, naming the file and the key."""


class MissingTranslation(KeyError):
    pass


def _flatten(prefix: str, value, into: dict[str, str], source: Path) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _flatten(f"{prefix}.{key}", child, into, source)
    elif isinstance(value, str):
        into[prefix] = value
    else:
        raise CatalogError(f"{source.name}: {prefix} must be a string or an object, not {type(value).__name__}")


def load_catalogs(directory: Path) -> dict[str, dict[str, str]]:
    """{lang: {key: text}} from every <area>.<lang>.json of the directory."""
    catalogs: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for path in sorted(directory.glob("*.json")):
        match = CATALOG_FILE.match(path.name)
        if not match or match["lang"] not in LANGUAGES:
            raise CatalogError(f"{path.name}: name it <area>.<lang>.json with lang one of {', '.join(LANGUAGES)}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CatalogError(f"{path.name}: invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise CatalogError(f"{path.name}: the top level must be an object")
        _flatten(match["area"], data, catalogs[match["lang"]], path)
    return catalogs


class Translator:
    """`t(key, **params)` for one language; params fill `{name}` placeholders."""

    def __init__(self, lang: str, catalogs: dict[str, dict[str, str]]):
        self.lang = lang
        self._catalog = catalogs[lang]
        self._fallback = catalogs[DEFAULT_LANGUAGE]

    def __call__(self, key: str, **params) -> str:
        text = self._catalog.get(key)
        if text is None:
            if strict:
                raise MissingTranslation(f"no {self.lang!r} text for {key!r}")
            log.warning("missing translation %s for %s", key, self.lang)
            text = self._fallback.get(key, key)
        return text.format_map(params) if params else text

    def has(self, key: str) -> bool:
        return key in self._catalog

    def subset(self, prefix: str) -> dict[str, str]:
        """The texts under a prefix, for the scripts of a page (keys without the prefix)."""
        return {k[len(prefix):]: v for k, v in self._catalog.items() if k.startswith(prefix)}


def _accept_language(header: str) -> str | None:
    """The supported language the Accept-Language header prefers most, if any."""
    ranked = []
    for position, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


def negotiate(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    for candidate in (query_lang, cookie_lang):
        if candidate in LANGUAGES:
            return candidate
    return _accept_language(accept_language or "") or DEFAULT_LANGUAGE


@lru_cache
def catalogs_of(directory: Path) -> dict[str, dict[str, str]]:
    return load_catalogs(directory)
