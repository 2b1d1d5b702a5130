"""Glue between the penalty use cases and the app: scope, sources of a case, the provisions table."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits import penalties
from audits.penalties import check_fine_range
from greenshield.auth.policy import outlet_in_scope
from greenshield.errors import Conflict, Invalid, NotFound
from models import Audit, LegalProvision, PenaltyCase, RectificationOrder, User


def case_for(session: Session, user: User, case_id: int) -> PenaltyCase:
    """A case of an outlet the user may see (NotFound otherwise)."""
    case = session.get(PenaltyCase, case_id)
    if case is None or not outlet_in_scope(user, case.outlet):
        raise NotFound("not_found.penalty_case", id=case_id)
    return case


def provision(session: Session, provision_id: int) -> LegalProvision:
    found = session.get(LegalProvision, provision_id)
    if found is None:
        raise Invalid("validation_error.unknown_provision", field="provision_id", id=provision_id)
    return found


def register(session: Session, user: User, data: dict, *, today, document_prefix: str) -> PenaltyCase:
    """立案 from the order or audit named in ``data`` (in the user's scope)."""
    order = audit = None
    if data.get("order_id"):
        order = session.get(RectificationOrder, data["order_id"])
        if order is None or not outlet_in_scope(user, order.outlet):
            raise Invalid("validation_error.unknown_order", field="order_id", id=data["order_id"])
    if data.get("audit_id"):
        audit = session.get(Audit, data["audit_id"])
        if audit is None or not outlet_in_scope(user, audit.outlet):
            raise Invalid("validation_error.unknown_audit", field="audit_id", id=data["audit_id"])
    return penalties.register_case(session, facts=data["facts"], provision=provision(session, data["provision_id"]),
                                   today=today, registered_by=user, document_prefix=document_prefix, order=order,
                                   audit=audit)


def create_provision(session: Session, data: dict) -> LegalProvision:
    if session.scalar(select(LegalProvision.id).where(LegalProvision.code == data["code"])):
        raise Conflict("conflict.exists", field="code", value=data["code"])
    check_fine_range(data.get("fine_min"), data.get("fine_max"))
    row = LegalProvision(**data, active=True)
    session.add(row)
    session.flush()
    return row


def update_provision(session: Session, provision_id: int, data: dict) -> LegalProvision:
    row = session.get(LegalProvision, provision_id)
    if row is None:
        raise NotFound("not_found.provision", id=provision_id)
    check_fine_range(data.get("fine_min", row.fine_min), data.get("fine_max", row.fine_max))
    for name, value in data.items():
        setattr(row, name, value)
    session.flush()
    return row
