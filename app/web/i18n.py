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


def _flatten(prefix: str, value: object, into: dict[str, str], source: Path) -> None:
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

    def __call__(self, key: str, **params: object) -> str:
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
        return {k[len(prefix) :]: v for k, v in self._catalog.items() if k.startswith(prefix)}


# RFC 9110 §12.5.4: Accept-Language = #( language-range [ weight ] ); §12.4.2: weight = OWS ";" OWS
# "q=" qvalue, qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), "q" in any case.
LANGUAGE_RANGE = re.compile(r"(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)")
WEIGHT = re.compile(r"[qQ]=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)")
MAX_RANGES = 20


def _weights(header: str) -> dict[str, tuple[float, int]]:
    """{primary language or '*': (its best weight, position)} of the well-formed ranges. A range with a
    malformed weight (`en;q=abc`, `q=2`) is left out: the grammar gives it no weight, and reading one
    in (as 1, or as 0 yet still usable) would be guessing what the sender meant."""
    weights: dict[str, tuple[float, int]] = {}
    for position, element in enumerate(header.split(",", MAX_RANGES)[:MAX_RANGES]):
        language_range, *parameters = (piece.strip() for piece in element.split(";"))
        if not LANGUAGE_RANGE.fullmatch(language_range) or len(parameters) > 1:
            continue  # empty list elements (§5.6.1) and anything malformed
        weight = WEIGHT.fullmatch(parameters[0]) if parameters else None
        if parameters and weight is None:
            continue
        primary = language_range.lower().split("-")[0]
        quality = float(weight[1]) if weight else 1.0
        if primary not in weights or quality > weights[primary][0]:
            weights[primary] = (quality, position)
    return weights


def _accept_language(header: str) -> str | None:
    """The supported language the Accept-Language header prefers most, if any (weight 0: not
    acceptable; `*` stands for the languages it does not name; ties: the earlier range, then Korean).
    When it prefers none, the first supported language it does not refuse (`ko;q=0` gives English);
    None when it refuses them all (the caller then disregards it, as §12.5.4 allows)."""
    weights = _weights(header)
    ranked, not_refused = [], []
    for lang in LANGUAGES:
        weight = weights.get(lang) or weights.get("*")
        if weight is None:
            not_refused.append(lang)
        elif weight[0] > 0:
            ranked.append((-weight[0], weight[1], lang != DEFAULT_LANGUAGE, lang))
    if ranked:
        return min(ranked)[3]
    return not_refused[0] if not_refused else None


def negotiate(query_lang: str | None, cookie_lang: str | None, accept_language: str | None) -> str:
    """The language of a page or report: `?lang=`, then the `lang` cookie (each when it names a
    supported language, in any case), then Accept-Language, then Korean."""
    for candidate in (query_lang, cookie_lang):
        if candidate and candidate.lower() in LANGUAGES:
            return candidate.lower()
    return _accept_language(accept_language or "") or DEFAULT_LANGUAGE


@lru_cache
def catalogs_of(directory: Path) -> dict[str, dict[str, str]]:
    return load_catalogs(directory)
