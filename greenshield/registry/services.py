"""Registry use cases: create and edit registry entries, resolving the codes users give to rows.

Functions flush and never commit; they raise Invalid for unknown codes and Conflict for taken ones.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from greenshield.errors import Conflict, Invalid, on_field
from greenshield.settings import Settings
from inspection.identity import InvalidIdentity, validate_credit_code, validate_id_no
from models import ContractCustomer, Enterprise, Outlet, OutletKind, Region, Staff, StaffRole, XrayMachine


def _by_code(session: Session, column, value: str, field: str):
    row = session.scalar(select(column.class_).where(column == value))
    if row is None:
        raise Invalid(f"validation_error.unknown_{field.removesuffix('_code')}", field=field, code=value)
    return row


def enterprise(session: Session, code: str) -> Enterprise:
    return _by_code(session, Enterprise.code, code, "enterprise_code")


def region(session: Session, code: str) -> Region:
    return _by_code(session, Region.code, code, "region_code")


def outlet(session: Session, code: str) -> Outlet:
    return _by_code(session, Outlet.code, code, "outlet_code")


def _unique(session: Session, column, value: str, field: str) -> None:
    if session.scalar(select(column).where(column == value)) is not None:
        raise Conflict("conflict.exists", field=field, value=value)


def credit_code(value: str) -> str:
    try:
        return validate_credit_code(value)
    except InvalidIdentity as exc:
        raise on_field(exc, "credit_code") from None


def create_enterprise(session: Session, data: dict[str, Any]) -> Enterprise:
    _unique(session, Enterprise.code, data["code"], "code")
    row = Enterprise(code=data["code"], name=data["name"], active=True)
    session.add(row)
    session.flush()
    return row


def create_outlet(session: Session, data: dict[str, Any]) -> Outlet:
    _unique(session, Outlet.code, data["code"], "code")
    row = Outlet(code=data["code"], name=data["name"], enterprise=enterprise(session, data["enterprise_code"]),
                 region=region(session, data["region_code"]), kind=OutletKind(data["kind"]), active=True)
    session.add(row)
    session.flush()
    return row


def update_outlet(session: Session, row: Outlet, data: dict[str, Any], settings: Settings | None = None) -> Outlet:
    """Edit an outlet. A new ``screening_site_code`` (``None`` or "" clears it) recounts the outlet's verified
    X-ray figures with ``settings``. Raises Invalid for an unknown site or the outlet itself."""
    if "screening_site_code" in data:
        code = data.pop("screening_site_code")
        site = _by_code(session, Outlet.code, code.strip().upper(), "screening_site_code") if code else None
        if site is not None and site.id == row.id:
            raise Invalid("validation_error.screening_site_self", field="screening_site_code")
        if site is not row.screening_site:
            row.screening_site = site
            session.flush()
            if settings is not None:
                from greenshield.compliance.services import refresh_outlet
                from greenshield.compliance.verification import Window

                refresh_outlet(session, row, settings.thresholds, Window.of(settings))
    if "enterprise_code" in data:
        row.enterprise = enterprise(session, data.pop("enterprise_code"))
    if "region_code" in data:
        row.region = region(session, data.pop("region_code"))
    if "kind" in data:
        row.kind = OutletKind(data.pop("kind"))
    for key, value in data.items():
        setattr(row, key, value)
    session.flush()
    return row


def create_machine(session: Session, data: dict[str, Any]) -> XrayMachine:
    _unique(session, XrayMachine.code, data["code"], "code")
    row = XrayMachine(code=data["code"], outlet=outlet(session, data["outlet_code"]), model=data["model"],
                      installed_on=data["installed_on"], active=True)
    session.add(row)
    session.flush()
    return row


def set_staff_id_no(session: Session, settings: Settings, staff: Staff, id_no: str | None) -> None:
    """Store a staff member's resident ID encrypted and blind-indexed like senders' (or clear it)."""
    from greenshield.personal import vault
    from greenshield.personal.keyring import ID_NO, STAFF_ID_NO

    if not id_no:
        staff.id_no_enc = staff.id_no_hmac = None
        return
    try:
        clear = validate_id_no("RESIDENT_ID", id_no)
    except InvalidIdentity as exc:
        raise on_field(exc, "id_no") from None
    v = vault(session, settings)
    staff.id_no_enc = v.encrypt(clear, STAFF_ID_NO)
    staff.id_no_hmac = v.index(clear, ID_NO)


def create_staff(session: Session, settings: Settings, data: dict[str, Any]) -> Staff:
    _unique(session, Staff.staff_id, data["staff_id"], "staff_id")
    row = Staff(staff_id=data["staff_id"], name=data["name"], outlet=outlet(session, data["outlet_code"]),
                role=StaffRole(data["role"]), certificate_no=data.get("certificate_no"), active=True)
    set_staff_id_no(session, settings, row, data.get("id_no"))
    session.add(row)
    session.flush()
    return row


def create_contract_customer(session: Session, data: dict[str, Any]) -> ContractCustomer:
    _unique(session, ContractCustomer.code, data["code"], "code")
    row = ContractCustomer(code=data["code"], name=data["name"], credit_code=credit_code(data["credit_code"]),
                           outlet=outlet(session, data["outlet_code"]), filed_on=data["filed_on"],
                           valid_until=data["valid_until"], active=True)
    session.add(row)
    session.flush()
    return row


def update_row(session: Session, settings: Settings, row, data: dict[str, Any]):
    """Apply a partial update, resolving ``outlet_code`` and checking credit codes, roles and dates."""
    if "outlet_code" in data:
        row.outlet = outlet(session, data.pop("outlet_code"))
    if "credit_code" in data:
        data["credit_code"] = credit_code(data["credit_code"])
    if "role" in data:
        data["role"] = StaffRole(data["role"])
    if "id_no" in data:
        set_staff_id_no(session, settings, row, data.pop("id_no"))
    for key, value in data.items():
        setattr(row, key, value)
    if isinstance(row, Staff) and row.role is StaffRole.SCREENER and not row.certificate_no:
        raise Invalid("validation_error.screener_certificate", field="certificate_no")
    if isinstance(row, ContractCustomer) and row.valid_until < row.filed_on:
        raise Invalid("validation_error.valid_until_before_filed_on", field="valid_until")
    session.flush()
    return row


