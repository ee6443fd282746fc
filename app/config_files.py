"""Configuration as code: a TOML file of `[[key]]` tables, each validated by a pydantic model with an
`id` (services.toml, escalation.toml). The file is refused whole; the message names the file, the
table (index and id) and the field."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

Table = TypeVar("Table", bound=BaseModel)


def load_tables(path: Path, key: str, model: type[Table], error: type[ValueError], what: str) -> list[Table]:
    """The tables of `[[key]]` validated by `model`, ids unique; raises `error` naming the first problem."""
    try:
        document = tomllib.loads(path.read_text())
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from exc
    entries = document.get(key, [])
    if not isinstance(entries, list):
        raise error(f"{path}: '{key}' must be an array of tables ([[{key}]])")
    tables: list[Table] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        label = f"{key}[{index}]" + (f" ({entry.get('id')})" if isinstance(entry, dict) and entry.get("id") else "")
        try:
            table = model.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or what}: {err['msg']}" for err in exc.errors()
            )
            raise error(f"{path}: {label}: {problems}") from None
        table_id = table.model_dump(include={"id"})["id"]  # every model of a config file has one
        if table_id in seen:
            raise error(f"{path}: {label}: id: duplicate {what} id {table_id!r}")
        seen.add(table_id)
        tables.append(table)
    return tables
