"""CSV import of orders for small offices: the REST fields as columns, validated with line numbers, all or nothing."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from backend_sync.hub.auth import AdminPrincipal
from backend_sync.hub.deps import Hub, HubContext
from backend_sync.hub.errors import HubError, Invalid
from backend_sync.hub.orders_api import OrderIn, OrderWriter, create_order

MAX_CSV_BYTES = 1024 * 1024
MAX_ROWS = 2000
COLUMNS = tuple(OrderIn.model_fields)
REQUIRED_COLUMNS = ("reference", "kiosk", "size")  # document_kind: empty or absent is an ID card


@dataclass(frozen=True)
class LineError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class CsvInvalid(Invalid):
    """The file was refused; nothing was imported. ``errors`` names every bad line."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:20])
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"nothing imported: {shown}{more}")


class ImportResult(BaseModel):
    created: list[str]
    existing: list[str]


def _pydantic_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(x) for x in err["loc"]) or "row"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def parse_csv(text: str) -> list[tuple[int, OrderIn]]:
    """Parse and validate every line (header names the columns); raise CsvInvalid listing each bad line."""
    if len(text.encode()) > MAX_CSV_BYTES:
        raise CsvInvalid([LineError(0, f"the file is larger than {MAX_CSV_BYTES} bytes")])
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")), restkey="_extra")
    header = reader.fieldnames or []
    errors: list[LineError] = []
    unknown = [c for c in header if c not in COLUMNS]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if unknown or missing or not header:
        msg = []
        if unknown:
            msg.append(f"unknown columns {', '.join(unknown)}")
        if missing:
            msg.append(f"missing columns {', '.join(missing)}")
        if not header:
            msg.append("the file is empty")
        raise CsvInvalid([LineError(1, "; ".join(msg) + f" (columns: {', '.join(COLUMNS)})")])
    rows: list[tuple[int, OrderIn]] = []
    seen: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        if len(rows) + len(errors) >= MAX_ROWS:
            raise CsvInvalid([LineError(line, f"more than {MAX_ROWS} orders in one file")])
        if "_extra" in record:
            errors.append(LineError(line, "more values than columns"))
            continue
        values = {k: v for k, v in record.items() if v is not None and v.strip() != ""}
        if not values:
            continue  # blank line
        try:
            order = OrderIn.model_validate(values)
        except ValidationError as exc:
            errors.append(LineError(line, _pydantic_message(exc)))
            continue
        if order.reference in seen:
            errors.append(LineError(line, f"reference {order.reference!r} repeats line {seen[order.reference]}"))
            continue
        seen[order.reference] = line
        rows.append((line, order))
    if errors:
        raise CsvInvalid(errors)
    if not rows:
        raise CsvInvalid([LineError(1, "no orders in the file")])
    return rows


def import_csv(conn: sa.Connection, principal: AdminPrincipal, text: str, now: float) -> ImportResult:
    """Create every order of the file in the caller's transaction; the first refusal aborts the whole import."""
    rows = parse_csv(text)
    created: list[str] = []
    existing: list[str] = []
    errors: list[LineError] = []
    for line, order in rows:
        try:
            out, is_new = create_order(conn, principal, order, now)
        except HubError as exc:
            errors.append(LineError(line, str(exc)))
            continue
        (created if is_new else existing).append(out.id)
    if errors:
        raise CsvInvalid(errors)  # raised inside the transaction: everything is rolled back
    return ImportResult(created=created, existing=existing)


def decode_upload(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CsvInvalid([LineError(0, "the file is not UTF-8 text")]) from exc


def import_into_store(hub: HubContext, principal: AdminPrincipal, text: str) -> ImportResult:
    with hub.store.write() as conn:
        return import_csv(conn, principal, text, hub.clock.now())


def build_router() -> APIRouter:
    router = APIRouter(tags=["orders"])

    @router.post(
        "/api/v1/orders/import",
        openapi_extra={
            "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}},
        },
    )
    async def post_import(request: Request, hub: Hub, principal: OrderWriter) -> ImportResult:
        data = await request.body()
        if len(data) > MAX_CSV_BYTES:
            raise CsvInvalid([LineError(0, f"the file is larger than {MAX_CSV_BYTES} bytes")])
        text = decode_upload(data)
        return await run_in_threadpool(import_into_store, hub, principal, text)

    return router
