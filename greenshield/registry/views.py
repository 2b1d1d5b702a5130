"""Registry pages: list, create, edit and deactivate outlets, machines, staff and contract customers.

One table of page definitions drives all four, reusing the API's schemas and services.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError
from sqlalchemy import select

from greenshield import db
from greenshield.auth.permissions import Capability, can
from greenshield.auth.policy import allow, current_user
from greenshield.context import settings
from greenshield.errors import DomainError, form_errors
from greenshield.registry import schemas as s, services
from greenshield.registry.api import _filtered, _get
from models import ContractCustomer, Enterprise, Outlet, Region, Staff, XrayMachine

bp = Blueprint("registry_pages", __name__, url_prefix="/registry")


@dataclass(frozen=True)
class Field:
    name: str
    label: object
    kind: str = "text"  # text | date | select
    choices: Callable[[], list[tuple[str, str]]] | None = None
    edit: bool = True
    create: bool = True  # False: only on the edit form


@dataclass(frozen=True)
class Page:
    title: object
    model: type
    key: str
    columns: tuple[tuple[str, object], ...]
    fields: tuple[Field, ...]
    schema_in: type[Schema]
    schema_patch: type[Schema]
    schema_out: type[Schema]
    create: Callable


def _outlets():
    return [(o.code, f"{o.code} {o.name}") for o in db.session().scalars(select(Outlet).where(Outlet.active).order_by(Outlet.code))]


def _enterprises():
    return [(e.code, f"{e.code} {e.name}") for e in db.session().scalars(select(Enterprise).order_by(Enterprise.code))]


def _regions():
    return [(r.code, f"{r.code} {r.name}") for r in db.session().scalars(select(Region).order_by(Region.code))]


OUTLET_FIELD = Field("outlet_code", _l("Outlet"), "select", _outlets)
PAGES = {
    "outlets": Page(
        _l("Outlets"), Outlet, "code",
        (("code", _l("Code")), ("name", _l("Name")), ("enterprise_name", _l("Enterprise")),
         ("region_name", _l("Region")), ("kind", _l("Kind"))),
        (Field("code", _l("Code"), edit=False), Field("name", _l("Name")),
         Field("enterprise_code", _l("Enterprise"), "select", _enterprises),
         Field("region_code", _l("Region"), "select", _regions),
         Field("kind", _l("Kind"), "select", lambda: [("outlet", _l("Outlet")), ("sorting_centre", _l("Sorting centre"))]),
         Field("screening_site_code", _l("Screening site (代检)"), "select", lambda: [("", "—"), *_outlets()],
               create=False)),
        s.OutletIn, s.OutletPatch, s.OutletOut, services.create_outlet),
    "xray-machines": Page(
        _l("X-ray machines"), XrayMachine, "code",
        (("code", _l("Code")), ("outlet_code", _l("Outlet")), ("model", _l("Model")), ("installed_on", _l("Installed on"))),
        (Field("code", _l("Code"), edit=False), OUTLET_FIELD, Field("model", _l("Model")),
         Field("installed_on", _l("Installed on"), "date")),
        s.MachineIn, s.MachinePatch, s.MachineOut, services.create_machine),
    "staff": Page(
        _l("Staff"), Staff, "staff_id",
        (("staff_id", _l("Staff ID")), ("name", _l("Name")), ("outlet_code", _l("Outlet")), ("role", _l("Role")),
         ("certificate_no", _l("Certificate no."))),
        (Field("staff_id", _l("Staff ID"), edit=False), Field("name", _l("Name")), OUTLET_FIELD,
         Field("role", _l("Role"), "select", lambda: [("courier", _l("Courier")), ("screener", _l("Screener"))]),
         Field("certificate_no", _l("Certificate no."))),
        s.StaffIn, s.StaffPatch, s.StaffOut,
        lambda session, data: services.create_staff(session, settings(), data)),
    "contract-customers": Page(
        _l("Contract customers"), ContractCustomer, "code",
        (("code", _l("Code")), ("name", _l("Name")), ("credit_code", _l("Credit code")), ("outlet_code", _l("Outlet")),
         ("filed_on", _l("Filed on")), ("valid_until", _l("Valid until")), ("valid_today", _l("Valid today"))),
        (Field("code", _l("Code"), edit=False), Field("name", _l("Name")), Field("credit_code", _l("Credit code")),
         Field("outlet_code", _l("Outlet"), "select", _outlets, edit=False),
         Field("filed_on", _l("Filed on"), "date"), Field("valid_until", _l("Valid until"), "date")),
        s.ContractCustomerIn, s.ContractCustomerPatch, s.ContractCustomerOut, services.create_contract_customer),
}


def _page(kind: str) -> Page:
    page = PAGES.get(kind)
    if page is None:
        abort(404)
    return page


def _form_data(page: Page, editing: bool) -> dict:
    names = [f.name for f in page.fields if (f.edit if editing else f.create)]
    return {n: request.form[n].strip() for n in names if request.form.get(n, "").strip()}


@bp.route("/<kind>")
@allow(Capability.READ_REGISTRY)
def index(kind):
    page = _page(kind)
    args = {"q": request.args.get("q") or None, "include_inactive": request.args.get("all") == "1"}
    key_column = getattr(page.model, page.key)
    if request.args.get("format") == "xlsx":
        everything = db.session().scalars(_filtered(select(page.model), page.model, args).order_by(key_column)).all()
        return _sheet(page, everything)
    rows = db.session().scalars(_filtered(select(page.model), page.model, args).order_by(key_column).limit(500)).all()
    return render_template("registry/index.html", kind=kind, page=page,
                           rows=list(zip(page.schema_out(many=True).dump(rows), rows)), args=args,
                           can_edit=can(current_user(), Capability.MANAGE_REGISTRY))


def _sheet(page: Page, rows: list):
    """The list as an Excel workbook for people: the page's columns by their labels, names not keys."""
    from greenshield.spreadsheets import table_response
    from greenshield.web.labels import OUTLET_KINDS, STAFF_ROLES, label

    shown = {"kind": lambda v, o: label(OUTLET_KINDS, v), "role": lambda v, o: label(STAFF_ROLES, v),
             "outlet_code": lambda v, o: f"{o.outlet.name}（{v}）" if getattr(o, "outlet", None) else v}
    header = [str(title) for _key, title in page.columns] + [str(_l("Status"))]
    body = []
    for data, obj in zip(page.schema_out(many=True).dump(rows), rows):
        body.append([shown.get(key, lambda v, o: v)(data.get(key), obj) for key, _title in page.columns]
                    + [str(_l("Active") if data.get("active") else _l("Inactive"))])
    return table_response(header, body, filename=str(page.title), fmt="xlsx", title=str(page.title))


@bp.route("/<kind>/new", methods=["GET", "POST"])
@allow(Capability.MANAGE_REGISTRY)
def create(kind):
    page = _page(kind)
    values, errors = {}, {}
    if request.method == "POST":
        values = _form_data(page, editing=False)
        try:
            row = page.create(db.session(), page.schema_in().load(values))
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_l("Saved."))
            return redirect(url_for(".index", kind=kind, q=getattr(row, page.key)))
    return render_template("registry/form.html", kind=kind, page=page, values=values, errors=errors, editing=False), \
        422 if errors else 200


@bp.route("/<kind>/<key>/edit", methods=["GET", "POST"])
@allow(Capability.MANAGE_REGISTRY)
def edit(kind, key):
    page = _page(kind)
    row = _get(page.model, getattr(page.model, page.key), key)
    errors = {}
    values = page.schema_out().dump(row)
    if request.method == "POST":
        values = {**values, **_form_data(page, editing=True)}
        try:
            data = page.schema_patch().load(_form_data(page, editing=True))
            if page.model is Outlet and request.form.get("screening_site_code") == "":
                data["screening_site_code"] = None  # "—": no screening site
            services.update_outlet(db.session(), row, data, settings()) if page.model is Outlet else \
                services.update_row(db.session(), settings(), row, data)
        except (ValidationError, DomainError) as exc:
            errors = form_errors(exc)
        else:
            flash(_l("Saved."))
            return redirect(url_for(".index", kind=kind))
    return render_template("registry/form.html", kind=kind, page=page, values=values, errors=errors, editing=True,
                           key=key), 422 if errors else 200


@bp.route("/<kind>/<key>/active", methods=["POST"])
@allow(Capability.MANAGE_REGISTRY)
def set_active(kind, key):
    """Deactivate (or reactivate) an entry; registry entries are never deleted."""
    page = _page(kind)
    row = _get(page.model, getattr(page.model, page.key), key)
    row.active = request.form.get("active") == "1"
    flash(_l("Saved."))
    return redirect(url_for(".index", kind=kind, all=1))
