"""What a prober last saw in the database, kept beside its journal: the services to check and the
region's membership view. A prober started while the database is unreachable starts from them and
checks and spools as usual; the journal ships once the database is back. Written atomically
(temporary file, rename); an unreadable file counts as never written."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prober.models import ServiceRow
from prober.rendezvous import Member, View

log = logging.getLogger(__name__)
CATALOG_FILE = "catalog.json"
VIEW_FILE = "view.json"


def _write(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(value, default=str))
        os.replace(tmp, path)
    except OSError as exc:  # e.g. disk full: keep probing; only a later start without a database suffers
        log.warning("could not keep %s: %s", path.name, exc, extra={"job": "lastseen"})


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def save_catalog(directory: Path, rows: Sequence[ServiceRow]) -> None:
    _write(directory / CATALOG_FILE, [dict(r) for r in rows])


def load_catalog(directory: Path) -> list[dict[str, Any]] | None:
    """The service rows last loaded from the database, or None."""
    rows = _read(directory / CATALOG_FILE)
    return rows if isinstance(rows, list) else None


def save_view(directory: Path, view: View) -> None:
    _write(
        directory / VIEW_FILE,
        {"as_of": view.as_of, "members": [[m.prober_id, m.active_from, m.expires_at] for m in view.members]},
    )


def load_view(directory: Path) -> View | None:
    """The membership view of the last successful heartbeat, or None."""
    value = _read(directory / VIEW_FILE)
    try:
        return View(tuple(Member(str(p), float(a), float(e)) for p, a, e in value["members"]), float(value["as_of"]))
    except (TypeError, KeyError, ValueError):
        return None
