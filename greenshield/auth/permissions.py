"""What each role may do and which outlets it sees: the one home of role knowledge besides ``models.Role``.

Views declare capabilities (``@allow(Capability.REVIEW_XRAY)``), code and templates ask ``can(user, ...)`` /
``can('REVIEW_XRAY')``; only ``GRANTS`` says which roles hold a capability, and only ``SCOPES`` which outlets a
role sees. Adding a role means: its ``Role`` value, its roles in ``GRANTS``, its row in ``SCOPES``, its label
(``greenshield.web.navigation.ROLE_LABELS``) and that label's translation.
"""
from __future__ import annotations

import enum
from collections.abc import Iterable

from models import Role, User


class Capability(enum.Enum):
    """Something a user may do; its ``label`` says what (for developers and the documentation)."""

    def __new__(cls, value: str, label: str) -> Capability:
        member = object.__new__(cls)
        member._value_ = value
        member.label = label
        return member

    SIGN_IN = "sign_in", "Use one's own account: home page, notifications, API tokens, sign out"
    READ_COMPLIANCE = ("read_compliance", "Read compliance of the outlets in scope: rates, alerts, daily-log "
                       "batches and records, X-ray events and machines' power-on")
    READ_FINDINGS = "read_findings", "Read abnormal real-name screening findings of the outlets in scope"
    UPLOAD_DAILY_LOG = "upload_daily_log", "Upload daily logs of the outlets in scope"
    RECORD_XRAY_EVENTS = "record_xray_events", "Send X-ray events and machine status of the outlets in scope"
    REVIEW_XRAY = "review_xray", "Review flagged X-ray images in scope; see the models and reviewers' statistics"
    FOLLOW_CLUES = ("follow_clues", "Follow seized and referred X-ray events as clues in scope: hand them over to an "
                    "agency, close them; seizure statistics")
    MANAGE_XRAY_MODELS = "manage_xray_models", "Activate an X-ray model version"
    READ_REGISTRY = "read_registry", "Read outlets, machines, staff, contract customers and reference data in scope"
    MANAGE_REGISTRY = "manage_registry", "Create, edit and deactivate registry entries"
    PLAN_AUDITS = "plan_audits", "Draw audit plans and keep recurring draw schedules"
    VERIFY_AUDIT_PLANS = "verify_audit_plans", "Read an audit plan and re-run its draw to verify it"
    READ_AUDITS = "read_audits", "Read audits, their photos and rectification orders of the outlets in scope"
    WORK_AUDITS = "work_audits", "Work on the audits one is assigned to: checklist, photos, closing"
    WORK_ANY_AUDIT = "work_any_audit", "Work on any audit in scope, not only the ones one is assigned to"
    PUBLISH_AUDITS = "publish_audits", "Publish closed audits' results; see what is due for publication"
    ANSWER_RECTIFICATION = "answer_rectification", "Answer the rectification orders of one's outlets"
    DECIDE_RECTIFICATION = ("decide_rectification", "Accept, reject or re-inspect the answers to the rectification "
                            "orders of the audits one worked on")
    RECORD_ABSENCES = "record_absences", "Record one's own days of leave, training or other duties"
    RECORD_ANY_ABSENCE = "record_any_absence", "Record any inspector's days of absence"
    READ_PENALTIES = "read_penalties", "Read the penalty cases of the outlets in scope and their documents"
    MANAGE_PENALTIES = ("manage_penalties", "Register penalty cases (立案), record notices and hearings, decide and "
                        "publish")
    MANAGE_PROVISIONS = "manage_provisions", "Keep the table of legal provisions penalties rest on"
    MANAGE_CHECKLISTS = "manage_checklists", "Extend and retire the checklist items of each audit kind"
    MANAGE_CALENDAR = "manage_calendar", "Load and edit the holidays and make-up working days of a year"
    READ_CREDIT = "read_credit", "Read the credit levels of enterprises and their outlets in scope"
    READ_INCIDENTS = "read_incidents", "Read the safety incidents of the outlets in scope, their updates and files"
    REPORT_INCIDENTS = ("report_incidents", "Report safety incidents of the outlets in scope, add follow-up reports "
                        "and files")
    MANAGE_INCIDENTS = "manage_incidents", "Confirm incidents' grades and close incidents in scope"
    RECORD_EMERGENCY_PLANS = ("record_emergency_plans", "File emergency plans and drills of the enterprises in scope "
                              "and read them")
    READ_EMERGENCY_READINESS = ("read_emergency_readiness", "See which enterprises lack a valid emergency plan or a "
                                "drill in the last 12 months; read the daily safety report")
    REGISTER_CASES = "register_cases", "Register investigation cases and see one's own"
    APPROVE_CASES = "approve_cases", "Approve or refuse investigation cases; see every case"
    TRACE = ("trace", "Trace under one's own approved, unexpired case, personal data in clear: queries, the "
             "case's evidence and its export, watchlists")
    TRACE_WAYBILL = "trace_waybill", "Trace a waybill number without a case, within one's region, masked"
    READ_ACCESS_LOG = "read_access_log", "Read the access log and verify its integrity"
    MANAGE_USERS = ("manage_users", "Administer user accounts: create, change role or scope, deactivate, unlock, "
                    "reset passwords, revoke tokens, sign out everywhere")
    READ_ADMIN_LOG = "read_admin_log", "Read the administrators' action log on user accounts"
    READ_METRICS = "read_metrics", "Read the operational metrics"


class Scope(enum.Enum):
    """Which outlets (and regions) a role sees, and so what its accounts need when created."""

    EVERYTHING = "everything"  # every outlet and region
    REGION = "region"  # the outlets under the account's region; an account needs a region
    OUTLETS = "outlets"  # the account's own outlets; an account needs at least one
    NOTHING = "nothing"  # no outlet


ADMIN, INSPECTOR, MANAGER = Role.ADMIN, Role.INSPECTOR, Role.OUTLET_MANAGER
INVESTIGATOR, AUDITOR = Role.INVESTIGATOR, Role.AUDITOR
C = Capability

# The one table of who may do what.
GRANTS: dict[Capability, frozenset[Role]] = {
    C.SIGN_IN: frozenset(Role),
    C.READ_COMPLIANCE: frozenset({ADMIN, INSPECTOR, MANAGER}),
    C.READ_FINDINGS: frozenset({ADMIN, INSPECTOR}),
    C.UPLOAD_DAILY_LOG: frozenset({ADMIN, MANAGER}),
    C.RECORD_XRAY_EVENTS: frozenset({ADMIN, MANAGER}),
    C.REVIEW_XRAY: frozenset({ADMIN, INSPECTOR}),
    C.FOLLOW_CLUES: frozenset({ADMIN, INSPECTOR}),
    C.MANAGE_XRAY_MODELS: frozenset({ADMIN}),
    C.READ_REGISTRY: frozenset({ADMIN, INSPECTOR, MANAGER}),
    C.MANAGE_REGISTRY: frozenset({ADMIN}),
    C.PLAN_AUDITS: frozenset({ADMIN, INSPECTOR}),
    C.VERIFY_AUDIT_PLANS: frozenset({ADMIN, INSPECTOR, AUDITOR}),
    C.READ_AUDITS: frozenset({ADMIN, INSPECTOR, MANAGER}),
    C.WORK_AUDITS: frozenset({ADMIN, INSPECTOR}),
    C.WORK_ANY_AUDIT: frozenset({ADMIN}),
    C.PUBLISH_AUDITS: frozenset({ADMIN, INSPECTOR}),
    C.ANSWER_RECTIFICATION: frozenset({MANAGER}),
    C.DECIDE_RECTIFICATION: frozenset({ADMIN, INSPECTOR}),
    C.RECORD_ABSENCES: frozenset({ADMIN, INSPECTOR}),
    C.RECORD_ANY_ABSENCE: frozenset({ADMIN}),
    C.READ_PENALTIES: frozenset({ADMIN, INSPECTOR, MANAGER}),
    C.MANAGE_PENALTIES: frozenset({ADMIN, INSPECTOR}),
    C.MANAGE_PROVISIONS: frozenset({ADMIN}),
    C.MANAGE_CHECKLISTS: frozenset({ADMIN}),
    C.MANAGE_CALENDAR: frozenset({ADMIN}),
    C.READ_CREDIT: frozenset({ADMIN, INSPECTOR}),
    C.READ_INCIDENTS: frozenset({ADMIN, INSPECTOR, MANAGER}),
    C.REPORT_INCIDENTS: frozenset({ADMIN, INSPECTOR, MANAGER}),
    C.MANAGE_INCIDENTS: frozenset({ADMIN, INSPECTOR}),
    C.RECORD_EMERGENCY_PLANS: frozenset({ADMIN, INSPECTOR, MANAGER}),
    C.READ_EMERGENCY_READINESS: frozenset({ADMIN, INSPECTOR}),
    C.REGISTER_CASES: frozenset({INVESTIGATOR}),
    C.APPROVE_CASES: frozenset({AUDITOR, ADMIN}),
    C.TRACE: frozenset({INVESTIGATOR}),
    C.TRACE_WAYBILL: frozenset({INSPECTOR}),
    C.READ_ACCESS_LOG: frozenset({AUDITOR, ADMIN}),
    C.MANAGE_USERS: frozenset({ADMIN}),
    C.READ_ADMIN_LOG: frozenset({AUDITOR, ADMIN}),
    C.READ_METRICS: frozenset({ADMIN}),
}

# The one table of what each role sees.
SCOPES: dict[Role, Scope] = {
    ADMIN: Scope.EVERYTHING,
    INSPECTOR: Scope.REGION,
    MANAGER: Scope.OUTLETS,
    INVESTIGATOR: Scope.NOTHING,
    AUDITOR: Scope.NOTHING,
}


def capability(value: Capability | str) -> Capability:
    """``value`` as a Capability: a member, or a member's name (``'REVIEW_XRAY'``, as templates write it).
    Raises KeyError for an unknown name, so that a typo fails loudly instead of hiding a page."""
    return value if isinstance(value, Capability) else Capability[value]


def can(user: User | None, *capabilities: Capability | str) -> bool:
    """Whether ``user`` holds any of ``capabilities`` (never, for no user)."""
    return user is not None and any(user.role in GRANTS[capability(c)] for c in capabilities)


def roles_with(capabilities: Iterable[Capability]) -> frozenset:
    """The roles that hold any of ``capabilities``."""
    return frozenset().union(*(GRANTS[c] for c in capabilities))


def scope_of(user: User) -> Scope:
    """What ``user``'s role sees."""
    return SCOPES[user.role]
