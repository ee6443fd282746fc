"""Customers and their contracts: customers.toml (configuration as code, applied by `slamon migrate`
like services.toml), the admin API's CRUD (audited), and target overrides under the notice rule.
The file owns the customers it names (`managed_by = 'config'`), the API those it created (`'api'`)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
from pydantic import ValidationError

from app.audit import service as audit
from app.auth.service import Principal
from app.contract import JsonObject
from app.customers import queries
from app.customers.models import CustomerConfig, CustomerRead, OverrideCreate, OverrideRead
from app.errors import ApiError, not_found
from app.formatting import utc_iso
from app.maintenance.service import notice_rule


class CustomersFileError(ValueError):
    """customers.toml is unreadable or invalid; the message names file, customer and field."""


def load_customers(path: Path) -> list[CustomerConfig]:
    """Parse and validate a customers file; refuse it whole, naming the first problem. A missing
    file is no customers (the file is optional)."""
    try:
        document = tomllib.loads(path.read_text())
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise CustomersFileError(f"{path}: cannot read: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CustomersFileError(f"{path}: not valid TOML: {exc}") from exc
    entries = document.get("customers", [])
    if not isinstance(entries, list):
        raise CustomersFileError(f"{path}: 'customers' must be an array of tables ([[customers]])")
    customers: list[CustomerConfig] = []
    for index, entry in enumerate(entries):
        named = entry.get("id") if isinstance(entry, dict) else None
        label = f"customers[{index}]" + (f" ({named})" if named else "")
        try:
            customer = CustomerConfig.model_validate(entry)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'customer'}: {err['msg']}" for err in exc.errors()
            )
            raise CustomersFileError(f"{path}: {label}: {problems}") from None
        if any(c.id == customer.id for c in customers):
            raise CustomersFileError(f"{path}: {label}: id: duplicate customer id {customer.id!r}")
        customers.append(customer)
    return customers


@dataclass
class CustomersSync:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _invalid(field_name: str, message: str) -> ApiError:
    return ApiError(
        422, "validation_error", f"{field_name}: {message}", [{"in": "body", "field": field_name, "message": message}]
    )


async def _unknown_services(conn: asyncpg.Connection, services: list[str]) -> list[str]:
    known = {r["id"] for r in await conn.fetch(queries.EXISTING_SERVICES, services)}
    return [s for s in services if s not in known]


async def _check_services(conn: asyncpg.Connection, services: list[str]) -> None:
    unknown = await _unknown_services(conn, services)
    if unknown:
        raise _invalid("services", f"unknown service(s): {', '.join(unknown)}")


def _fields(c: CustomerConfig) -> tuple[str, str, list[str], str, Decimal, str, date]:
    return (c.id, c.name, c.contacts, c.tier, c.monthly_fee, c.currency, c.starts_on)


async def _set_services(conn: asyncpg.Connection, customer_id: str, services: list[str]) -> None:
    await conn.execute(queries.CLEAR_SERVICES, customer_id)
    await conn.execute(queries.ADD_SERVICES, customer_id, services)


async def sync_customers(conn: asyncpg.Connection, path: Path, customers: list[CustomerConfig]) -> CustomersSync:
    """Write the file's customers (the file wins over an API customer of the same id); remove the file's
    customers it no longer names (their frozen statements stay). Unknown services refuse the file."""
    result = CustomersSync()
    async with conn.transaction():
        for index, customer in enumerate(customers):
            unknown = await _unknown_services(conn, customer.services)
            if unknown:
                raise CustomersFileError(
                    f"{path}: customers[{index}] ({customer.id}): services: unknown service(s): {', '.join(unknown)}"
                )
            inserted = await conn.fetchval(queries.UPSERT, *_fields(customer), index)
            await _set_services(conn, customer.id, customer.services)
            (result.inserted if inserted else result.updated).append(customer.id)
        result.removed = [r["id"] for r in await conn.fetch(queries.DELETE_MISSING_CONFIG, [c.id for c in customers])]
    return result


def decimal_text(value: Decimal) -> str:
    """An exact decimal as plain digits: PostgreSQL's numeric comes back as Decimal('1.5E+5') for 150000."""
    return format(value, "f")


def to_read(row: asyncpg.Record) -> CustomerRead:
    return CustomerRead(
        id=row["id"],
        name=row["name"],
        contacts=list(row["contacts"]),
        tier=row["tier"],
        monthly_fee=decimal_text(row["monthly_fee"]),
        currency=row["currency"],
        starts_on=row["starts_on"].isoformat(),
        services=list(row["services"]),
        managed_by=row["managed_by"],
        created_at=utc_iso(row["created_at"]),
        updated_at=utc_iso(row["updated_at"]),
    )


def override_to_read(row: asyncpg.Record) -> OverrideRead:
    return OverrideRead(
        id=row["id"],
        availability=decimal_text(row["availability"]),
        starts_at=utc_iso(row["starts_at"]),
        ends_at=utc_iso(row["ends_at"]),
        reason=row["reason"],
        announced_at=utc_iso(row["announced_at"]),
        effective=row["effective"],
        effectiveness_note=row["effectiveness_note"],
    )


async def list_customers(conn: asyncpg.Connection) -> list[CustomerRead]:
    return [to_read(r) for r in await conn.fetch(queries.LIST)]


async def get(conn: asyncpg.Connection, customer_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(queries.GET, customer_id)
    if row is None:
        raise not_found("customer", customer_id)
    return row


def _audit_details(customer: CustomerConfig) -> JsonObject:
    return customer.model_dump(mode="json")


async def create(conn: asyncpg.Connection, customer: CustomerConfig, actor: Principal) -> CustomerRead:
    """A customer the API owns; 409 when the id is taken."""
    async with conn.transaction():
        await _check_services(conn, customer.services)
        if await conn.fetchval(queries.INSERT, *_fields(customer), "api", 1_000_000) is None:
            message = f"customer id {customer.id!r} is taken"
            raise ApiError(409, "conflict", message, [{"in": "body", "field": "id", "message": message}])
        await _set_services(conn, customer.id, customer.services)
        await audit.record_by(conn, actor, "customer.create", "customer", customer.id, _audit_details(customer))
    return to_read(await get(conn, customer.id))


async def _lock_api_customer(conn: asyncpg.Connection, customer_id: str) -> None:
    """Lock a customer for a write through the API: 404 unknown, 409 when customers.toml owns it."""
    row = await conn.fetchrow(queries.GET_FOR_UPDATE, customer_id)
    if row is None:
        raise not_found("customer", customer_id)
    if row["managed_by"] == "config":
        raise ApiError(
            409,
            "conflict",
            f"customer {customer_id!r} is managed by customers.toml: change it there and run `slamon migrate`",
        )


async def update(
    conn: asyncpg.Connection, customer_id: str, customer: CustomerConfig, actor: Principal
) -> CustomerRead:
    """Replace a customer's contract (the body's id must be the path's)."""
    if customer.id != customer_id:
        raise _invalid("id", f"must be the customer of the path ({customer_id!r}): ids cannot change")
    async with conn.transaction():
        await _lock_api_customer(conn, customer_id)
        await _check_services(conn, customer.services)
        await conn.execute(queries.UPDATE, *_fields(customer))
        await _set_services(conn, customer_id, customer.services)
        await audit.record_by(conn, actor, "customer.update", "customer", customer_id, _audit_details(customer))
    return to_read(await get(conn, customer_id))


async def delete(conn: asyncpg.Connection, customer_id: str, actor: Principal) -> None:
    """Remove a customer the API created, with its overrides; its frozen statements stay."""
    async with conn.transaction():
        await _lock_api_customer(conn, customer_id)
        name = await conn.fetchval(queries.DELETE, customer_id)
        await audit.record_by(conn, actor, "customer.delete", "customer", customer_id, {"name": name})


async def overrides(conn: asyncpg.Connection, customer_id: str) -> list[OverrideRead]:
    await get(conn, customer_id)
    return [override_to_read(r) for r in await conn.fetch(queries.OVERRIDES, customer_id)]


async def add_override(
    conn: asyncpg.Connection,
    customer_id: str,
    data: OverrideCreate,
    actor: Principal,
    now: datetime,
    notice: timedelta,
) -> OverrideRead:
    """Record a relaxation now (the customer's notice); it counts only when recorded at least the
    notice period before it starts (docs/sla-math.md, Customers)."""
    await get(conn, customer_id)
    effective, note = notice_rule(data.starts_at, now, notice)
    async with conn.transaction():
        row = await conn.fetchrow(
            queries.INSERT_OVERRIDE,
            customer_id,
            data.availability,
            data.starts_at,
            data.ends_at,
            data.reason,
            now,
            effective,
            note,
        )
        assert row is not None  # INSERT … RETURNING
        await audit.record_by(
            conn,
            actor,
            "customer.override.create",
            "customer",
            customer_id,
            {**data.model_dump(mode="json"), "effective": effective},
        )
    return override_to_read(row)


async def delete_override(conn: asyncpg.Connection, customer_id: str, override_id: int, actor: Principal) -> None:
    async with conn.transaction():
        if await conn.fetchval(queries.DELETE_OVERRIDE, customer_id, override_id) is None:
            raise not_found("target override", f"{customer_id}/{override_id}")
        await audit.record_by(conn, actor, "customer.override.delete", "customer", customer_id, {"id": override_id})
