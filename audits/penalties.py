"""Administrative penalty cases (行政处罚): 立案 from an escalated order or a serious finding, the prior notice
with the right to a hearing, the decision within the provision's fine range, and its publication.

Periods follow the Administrative Penalty Law (行政处罚法, 2021): the party may ask for a hearing within five
days of the notice (§64), days being working days (§85); a decision comes after that period, or after the hearing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from audits.calendar import WorkCalendar, deadline as working_deadline, load_calendar
from audits.documents import document_no, next_number
from audits.errors import Conflict, Invalid, NotFound
from models import (Audit, AuditStatus, LegalProvision, OrderStatus, PenaltyCase, PenaltyDecision, PenaltyStatus,
                    RectificationOrder, User, utcnow)

HEARING_REQUEST_WORKING_DAYS = 5


@dataclass(frozen=True)
class Provision:
    code: str
    law: str
    article: str
    violation: str
    text: str
    verbatim: bool
    fine_min: int | None
    fine_max: int | None


ANTI_TERRORISM_85 = (
    "铁路、公路、水上、航空的货运和邮政、快递等物流运营单位有下列情形之一的，由主管部门处十万元以上五十万元以下罚款，"
    "并对其直接负责的主管人员和其他直接责任人员处十万元以下罚款：（一）未实行安全查验制度，对客户身份进行查验，"
    "或者未依照规定对运输、寄递物品进行安全检查或者开封验视的；（二）对禁止运输、寄递，存在重大安全隐患，或者客户"
    "拒绝安全查验的物品予以运输、寄递的；（三）未实行运输、寄递客户身份、物品信息登记制度的。")
DEFAULT_PROVISIONS = (
    Provision("ATL-85", "《中华人民共和国反恐怖主义法》", "第八十五条",
              "未实行安全查验制度、未查验客户身份、未开封验视或安全检查，或未实行客户身份、物品信息登记制度",
              ANTI_TERRORISM_85, True, 100_000, 500_000),
    Provision("REALNAME", "《邮件快件实名收寄管理办法》", "罚则",
              "未按规定核对、登记寄件人身份信息或未按规定使用实名收寄信息系统",
              "摘要（非原文，以正式公布文本为准）：寄递企业未按照规定核对、登记寄件人有效身份证件信息，或者未按照规定"
              "使用实名收寄信息系统的，由邮政管理部门责令改正，可处五千元以上三万元以下的罚款。", False, 5_000, 30_000),
    Provision("VIDEO", "寄递安全监督管理规定", "视频监控条款",
              "未按规定配备视频监控设备或未按规定保存监控资料",
              "摘要（非原文，以正式公布文本为准）：寄递企业未按照规定在收寄、分拣等场所配备视频监控设备，或者未按照规定"
              "保存监控资料的，由邮政管理部门责令改正；逾期未改正的，处一万元以下的罚款。", False, 0, 10_000),
)


def load_default_provisions(session: Session) -> int:
    """Add the default provisions whose codes are missing (admins' edits are kept); returns how many."""
    have = set(session.scalars(select(LegalProvision.code)))
    added = 0
    for p in DEFAULT_PROVISIONS:
        if p.code not in have:
            session.add(LegalProvision(code=p.code, law=p.law, article=p.article, violation=p.violation, text=p.text,
                                       verbatim=p.verbatim, fine_min=p.fine_min, fine_max=p.fine_max, active=True))
            added += 1
    session.flush()
    return added


def check_fine_range(fine_min: int | None, fine_max: int | None) -> None:
    if (fine_min is None) != (fine_max is None) or (fine_min is not None and not 0 <= fine_min <= fine_max):
        raise Invalid("validation_error.fine_range", field="fine_max")


def get_case(session: Session, case_id: int) -> PenaltyCase:
    case = session.get(PenaltyCase, case_id)
    if case is None:
        raise NotFound("not_found.penalty_case", id=case_id)
    return case


def register_case(session: Session, *, facts: str, provision: LegalProvision, today: dt.date,
                  registered_by: User | None, document_prefix: str, order: RectificationOrder | None = None,
                  audit: Audit | None = None) -> PenaltyCase:
    """立案: a case from an escalated rectification order, or from a closed audit with a serious finding.

    Raises Invalid without a source or with an inactive provision, Conflict when the order is not escalated,
    the audit has no serious finding, or the order has a case already.
    """
    if order is None and audit is None:
        raise Invalid("validation_error.case_source", field="order_id")
    if not provision.active:
        raise Invalid("validation_error.provision_inactive", field="provision_id", code=provision.code)
    if order is not None:
        if order.status is not OrderStatus.ESCALATED:
            raise Conflict("conflict.order_not_escalated")
        if session.scalar(select(PenaltyCase.id).where(PenaltyCase.order_id == order.id)):
            raise Conflict("conflict.order_has_case")
        outlet_id, audit = order.outlet_id, audit or order.audit
    else:
        if audit.status is not AuditStatus.CLOSED or not any(e.serious and e.compliant is False for e in audit.items):
            raise Conflict("conflict.no_serious_finding")
        outlet_id = audit.outlet_id
    seq = next_number(session, "case", today.year)
    case = PenaltyCase(case_year=today.year, case_seq=seq, case_no=document_no(document_prefix, "case", today.year, seq),
                       outlet_id=outlet_id,
                       order_id=order.id if order else None, audit_id=audit.id if audit else None,
                       provision_id=provision.id, facts=facts.strip(), status=PenaltyStatus.REGISTERED,
                       registered_on=today, registered_by_id=registered_by.id if registered_by else None)
    session.add(case)
    session.flush()
    return case


def serve_notice(session: Session, case: PenaltyCase, *, served_on: dt.date, hearing_requested: bool,
                 today: dt.date, rights_waived: bool = False, calendar: WorkCalendar | None = None) -> PenaltyCase:
    """Record the prior notice (行政处罚事先告知书) served on the party, and whether a hearing was asked for; the
    party has five working days from it to ask, unless it waived its rights to state its case and to a hearing
    in writing (``rights_waived``). Raises Conflict unless registered, Invalid for a date out of order or a
    waiver beside a request for a hearing."""
    if case.status is not PenaltyStatus.REGISTERED:
        raise Conflict("conflict.case_status", status=case.status.value)
    if rights_waived and hearing_requested:
        raise Invalid("validation_error.waiver_and_hearing", field="hearing_requested")
    if not case.registered_on <= served_on <= today:
        raise Invalid("validation_error.date_out_of_order", field="served_on")
    until = working_deadline(session, calendar or load_calendar(session), served_on, HEARING_REQUEST_WORKING_DAYS)
    case.notice_served_on, case.hearing_requested, case.rights_waived = served_on, hearing_requested, rights_waived
    case.hearing_deadline, case.hearing_deadline_provisional = until.day, until.provisional
    case.status = PenaltyStatus.NOTIFIED
    session.flush()
    return case


def firm_up_hearing_deadlines(session: Session, calendar: WorkCalendar) -> int:
    """Count again the provisional hearing-request deadlines (after admins loaded a year)."""
    firmed = 0
    for case in session.scalars(select(PenaltyCase).where(PenaltyCase.hearing_deadline_provisional.is_(True),
                                                          PenaltyCase.notice_served_on.is_not(None))):
        again = calendar.add_working_days(case.notice_served_on, HEARING_REQUEST_WORKING_DAYS)
        case.hearing_deadline, case.hearing_deadline_provisional = again.day, again.provisional
        firmed += not again.provisional
    session.flush()
    return firmed


def record_hearing(session: Session, case: PenaltyCase, *, held_on: dt.date, note: str | None,
                   today: dt.date) -> PenaltyCase:
    """Record the hearing (听证) the party asked for. Raises Conflict unless notified with a hearing asked for."""
    if case.status is not PenaltyStatus.NOTIFIED or not case.hearing_requested:
        raise Conflict("conflict.no_hearing_requested")
    if not case.notice_served_on <= held_on <= today:
        raise Invalid("validation_error.date_out_of_order", field="held_on")
    case.hearing_held_on, case.hearing_note = held_on, note
    session.flush()
    return case


def decide(session: Session, case: PenaltyCase, *, decision: str, decided_on: dt.date, today: dt.date,
           decided_by: User | None, document_prefix: str, fine_amount: int | None = None, text: str | None = None) -> PenaltyCase:
    """The decision (行政处罚决定): a warning, a fine in 元 within the provision's range, or another measure in
    words; numbered per year. Raises Conflict before the notice or while a hearing asked for is pending; Invalid
    before the hearing-request period ends (unless the hearing was held or the party waived it), or for a fine out
    of range."""
    if case.status is not PenaltyStatus.NOTIFIED:
        raise Conflict("conflict.case_status", status=case.status.value)
    if case.hearing_requested and case.hearing_held_on is None:
        raise Conflict("conflict.hearing_pending")
    if decided_on > today or decided_on < case.notice_served_on:
        raise Invalid("validation_error.date_out_of_order", field="decided_on")
    if case.hearing_held_on is None and not case.rights_waived and decided_on <= case.hearing_deadline:
        raise Invalid("validation_error.decision_too_early", field="decided_on", until=case.hearing_deadline)
    kind = PenaltyDecision(decision)
    provision = case.provision
    if kind is PenaltyDecision.FINE:
        if provision.fine_max is None:
            raise Invalid("validation_error.fine_not_allowed", field="fine_amount", provision=provision.citation)
        if fine_amount is None or not provision.fine_min <= fine_amount <= provision.fine_max:
            raise Invalid("validation_error.fine_out_of_range", field="fine_amount", min=provision.fine_min,
                          max=provision.fine_max, provision=provision.citation)
    elif fine_amount:
        raise Invalid("validation_error.fine_without_fine", field="fine_amount")
    if kind is PenaltyDecision.OTHER and not (text or "").strip():
        raise Invalid("validation_error.decision_text_required", field="text")
    case.decision, case.fine_amount = kind, fine_amount if kind is PenaltyDecision.FINE else None
    case.decision_text, case.decided_on = (text or "").strip() or None, decided_on
    seq = next_number(session, "decision", decided_on.year)
    case.decision_year, case.decision_seq = decided_on.year, seq
    case.decision_no = document_no(document_prefix, "decision", decided_on.year, seq)
    case.decided_by_id, case.status = decided_by.id if decided_by else None, PenaltyStatus.DECIDED
    session.flush()
    return case


def publish(session: Session, case: PenaltyCase) -> PenaltyCase:
    """Publish (公示) a decided case on the public list. Raises Conflict before the decision."""
    if case.status not in (PenaltyStatus.DECIDED, PenaltyStatus.PUBLISHED):
        raise Conflict("conflict.case_status", status=case.status.value)
    if case.published_at is None:
        case.published_at, case.status = utcnow(), PenaltyStatus.PUBLISHED
    session.flush()
    return case
