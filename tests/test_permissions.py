"""The capability -> roles table and the role -> scope table are the only places that name what a role may do."""
from __future__ import annotations

import ast
import enum
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from greenshield.auth import permissions, policy
from greenshield.auth.permissions import GRANTS, SCOPES, Capability as C, Scope, can, roles_with
from greenshield.web import navigation
from models import Role

REPO = Path(__file__).resolve().parents[1]
ROLE_HOMES = {REPO / "greenshield" / "auth" / "permissions.py", REPO / "models" / "accounts.py"}
ROLE_VALUES = {r.value for r in Role}


def test_every_capability_has_a_role_and_a_label():
    assert set(GRANTS) == set(C)
    assert {c.name: sorted(r.value for r in GRANTS[c]) for c in C if not GRANTS[c] or not GRANTS[c] <= set(Role)} == {}
    assert all(c.label and c.label[0].isupper() for c in C)


def test_every_role_has_a_capability_a_scope_and_a_label():
    assert all(any(role in roles for roles in GRANTS.values()) for role in Role)
    assert set(SCOPES) == set(Role)
    assert set(navigation.ROLE_LABELS) == set(Role)


def test_admins_hold_what_they_held_before_capabilities():
    """Everything but an investigator's case work, the inspectors' masked trace and answering one's own orders."""
    held = {c for c in C if can(SimpleNamespace(role=Role.ADMIN), c)}
    assert held == set(C) - {C.REGISTER_CASES, C.TRACE, C.TRACE_WAYBILL, C.ANSWER_RECTIFICATION}


def test_scopes_as_the_product_describes_them():
    assert SCOPES == {Role.ADMIN: Scope.EVERYTHING, Role.INSPECTOR: Scope.REGION, Role.OUTLET_MANAGER: Scope.OUTLETS,
                      Role.INVESTIGATOR: Scope.NOTHING, Role.AUDITOR: Scope.NOTHING}


def test_can_takes_members_or_names_and_refuses_unknown_names():
    inspector = SimpleNamespace(role=Role.INSPECTOR)
    assert can(inspector, C.REVIEW_XRAY) and can(inspector, "REVIEW_XRAY")
    assert can(inspector, C.TRACE, C.TRACE_WAYBILL) and not can(inspector, C.TRACE)
    assert not can(None, C.SIGN_IN)
    with pytest.raises(KeyError):
        can(inspector, "REVIEW_XRAYS")


def test_allow_takes_capabilities_not_roles():
    with pytest.raises(TypeError):
        policy.allow(Role.ADMIN)
    with pytest.raises(TypeError):
        policy.allow()


def test_every_capability_is_asked_for_somewhere():
    """A capability nobody asks for is a row of the table that decides nothing."""
    python = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "greenshield").rglob("*.py")
                       if p not in ROLE_HOMES)
    templates = "\n".join(p.read_text(encoding="utf-8") for p in (REPO / "greenshield" / "templates").rglob("*.html"))
    unused = [c.name for c in C if not re.search(rf"\b(Capability|C)\.{c.name}\b", python)
              and f"can('{c.name}')" not in templates]
    assert unused == []


def test_each_menu_entry_leads_to_a_page_its_viewers_may_open(app):
    for item in navigation.NAV:
        allowed = policy.roles_of(app.view_functions[item.endpoint])
        assert roles_with(item.capabilities) <= allowed, item.endpoint


# --- nobody else spells roles out --------------------------------------------------------------------------

TEMPLATE_ROLE_CHECK = re.compile(r"role\.value|\bRole\.|\.role\s*(==|!=|\bin\b|\bis\b|not\s+in\b)")


def test_templates_compare_no_roles():
    offenders = [f"{path.relative_to(REPO)}:{n}" for path in (REPO / "greenshield" / "templates").rglob("*.html")
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if TEMPLATE_ROLE_CHECK.search(line)]
    assert offenders == [], "templates ask can('CAPABILITY') instead"


def _is_role_member(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "Role"


def role_collections(source: str) -> list[int]:
    """Lines that build a tuple, list or set of roles: of ``Role.X`` members, of role names, or of the whole
    enum (``frozenset(Role)``)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            names = {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
            if any(_is_role_member(e) for e in node.elts) or (
                    len(names) >= 2 and names <= ROLE_VALUES and len(names) == len(node.elts)):
                lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in {"tuple", "list", "set", "frozenset"}
              and any(isinstance(a, ast.Name) and a.id == "Role" for a in node.args)):
            lines.append(node.lineno)
    return sorted(lines)


def role_comparisons(source: str) -> list[int]:
    """Lines that decide by role: comparing with a ``Role.X`` member, or testing ``x.role in ...``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        by_member = any(_is_role_member(o) for o in operands)
        by_membership = (isinstance(node.left, ast.Attribute) and node.left.attr == "role"
                         and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops))
        by_value = any(isinstance(o, ast.Constant) and o.value in ROLE_VALUES for o in operands) and any(
            isinstance(o, ast.Attribute) and o.attr == "value" and isinstance(o.value, ast.Attribute)
            and o.value.attr == "role" for o in operands)
        if by_member or by_membership or by_value:
            lines.append(node.lineno)
    return sorted(lines)


def _modules(*packages: str) -> list[Path]:
    return [p for package in packages for p in (REPO / package).rglob("*.py") if p not in ROLE_HOMES]


def test_no_module_but_the_permissions_defines_a_collection_of_roles():
    offenders = {str(p.relative_to(REPO)): lines for p in _modules("greenshield", "audits", "inspection", "models")
                 if (lines := role_collections(p.read_text(encoding="utf-8")))}
    assert offenders == {}, "name a capability in greenshield/auth/permissions.py instead"


def test_the_app_decides_nothing_by_role():
    offenders = {str(p.relative_to(REPO)): lines for p in _modules("greenshield")
                 if (lines := role_comparisons(p.read_text(encoding="utf-8")))}
    assert offenders == {}, "ask can(user, Capability.X) or the scope table instead"


def test_the_checks_catch_what_they_look_for():
    assert role_collections("READERS = (Role.ADMIN, Role.INSPECTOR)\n"
                            "x = y in {'admin', 'auditor'}\n"
                            "ALL = frozenset(Role)\n"
                            "EXTRA = [*READERS, Role.INVESTIGATOR]\n") == [1, 2, 3, 4]
    assert role_collections("role = Role(value)\nnames = [r.value for r in Role]\n"
                            "row = ('admin', 'admin', 'pw', {})\n") == []
    assert role_comparisons("if user.role is Role.ADMIN: pass\n"
                            "ok = user.role in DECIDERS\n"
                            "ok = user.role.value == 'investigator'\n"
                            "ok = staff.role is StaffRole.SCREENER\n") == [1, 2, 3]


# --- a role added to the tables is picked up everywhere ---------------------------------------------------


class MadeUpRole(enum.Enum):
    CLERK = "clerk"  # a made-up role: reads audits and rectification orders in a region, nothing else


@pytest.fixture
def clerk(monkeypatch):
    """What adding a role takes: its capabilities in GRANTS, its row in SCOPES and its label."""
    role = MadeUpRole.CLERK
    for capability in (C.SIGN_IN, C.READ_AUDITS):
        monkeypatch.setitem(GRANTS, capability, GRANTS[capability] | {role})
    monkeypatch.setitem(SCOPES, role, Scope.REGION)
    monkeypatch.setitem(navigation.ROLE_LABELS, role, "Clerk")
    return SimpleNamespace(id=-1, username="clerk", display_name="Clerk", role=role, region_code="150100",
                           outlets=[], active=True, agency=None, must_change_password=False)


def test_a_new_role_is_picked_up_by_can_the_menus_and_the_scope(app, clerk):
    from flask import g, render_template_string

    assert can(clerk, C.READ_AUDITS) and not can(clerk, C.WORK_AUDITS)
    assert permissions.scope_of(clerk) is Scope.REGION and policy.region_prefix(clerk) == "1501"
    assert policy.outlet_in_scope(clerk, SimpleNamespace(id=1, region_code="150102"))
    assert not policy.outlet_in_scope(clerk, SimpleNamespace(id=2, region_code="150200"))
    assert clerk.role in policy.roles_of(app.view_functions["audit_pages.orders"])
    assert clerk.role not in policy.roles_of(app.view_functions["audit_pages.index"])
    with app.test_request_context("/"):
        g.user = clerk
        assert [item["url"] for item in navigation.nav_items(clerk)] == ["/orders"]
        assert render_template_string("{{ can('READ_AUDITS') }} {{ can('WORK_AUDITS') }}") == "True False"


def test_a_new_role_passes_the_routes_its_capabilities_open(client, clerk, monkeypatch):
    monkeypatch.setattr(policy, "_user_from_cookie", lambda: clerk)
    assert client.get("/orders").status_code == 200
    assert client.get("/api/v1/rectification-orders").status_code == 200
    assert client.get("/api/v1/audit-schedules").status_code == 403
    assert client.get("/audits").status_code == 403
    assert client.get("/dashboard/").status_code == 403
    home = client.get("/").get_data(as_text=True)
    assert 'href="/orders"' in home and 'href="/audits"' not in home
