"""Registry routes under /api/v1: admins write; inspectors read in their region; managers read their own."""
from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import or_, select

from greenshield import db
from greenshield.pagination import page_of
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user, outlet_for, outlet_in_scope, scope_outlets
from greenshield.context import settings
from greenshield.errors import NotFound
from greenshield.registry import schemas as s, services
from models.registry import prefix_of
from models import ContractCustomer, Enterprise, IdType, Outlet, ProhibitedCategory, Region, Staff, XrayMachine

blp = Blueprint("registry", __name__, url_prefix="/api/v1", description="Outlets, machines, staff, contract customers and reference data")


SEARCHED = {Outlet: (Outlet.code, Outlet.name), XrayMachine: (XrayMachine.code, XrayMachine.model),
            Staff: (Staff.staff_id, Staff.name), ContractCustomer: (ContractCustomer.code, ContractCustomer.name)}
"""The columns the free-text filter ``q`` looks in, per list."""


def _filtered(stmt, model, args):
    """Apply the shared list filters: scope, region, enterprise, outlet, free text and inactive rows."""
    user = current_user()
    if model is not Outlet:
        stmt = stmt.join(Outlet, model.outlet_id == Outlet.id)
    stmt = scope_outlets(stmt, user)
    if args.get("region"):
        stmt = stmt.where(Outlet.region_code.startswith(prefix_of(args["region"])))
    if args.get("enterprise"):
        stmt = stmt.join(Enterprise, Outlet.enterprise_id == Enterprise.id).where(Enterprise.code == args["enterprise"].upper())
    if args.get("outlet"):
        stmt = stmt.where(Outlet.code == args["outlet"].upper())
    if args.get("q"):
        like = f"%{args['q']}%"
        stmt = stmt.where(or_(*(column.ilike(like) for column in SEARCHED[model])))
    if not args.get("include_inactive"):
        stmt = stmt.where(model.active.is_(True))
    return stmt


def _in_scope(row):
    """The row when its outlet is in the caller's scope; 404 otherwise, as if it did not exist."""
    outlet = row if isinstance(row, Outlet) else row.outlet
    if not outlet_in_scope(current_user(), outlet):
        raise NotFound()
    return row


NOUNS = {Outlet: "outlet", XrayMachine: "machine", Staff: "staff", ContractCustomer: "contract_customer"}


def _get(model, column, key: str):
    row = db.session().scalar(select(model).where(column == key.upper()))
    if row is None:
        raise NotFound(f"not_found.{NOUNS[model]}", code=key)
    return _in_scope(row)


# --- outlets ---------------------------------------------------------------------------------------------

@blp.route("/outlets", methods=["GET"])
@blp.arguments(s.ListArgs, location="query")
@blp.response(200, s.OutletOut(many=True))
@blp.paginate()
@allow(Capability.READ_REGISTRY)
def list_outlets(args, pagination_parameters):
    """Outlets and sorting centres in the caller's scope."""
    stmt = _filtered(select(Outlet), Outlet, args).order_by(Outlet.code)
    return page_of(stmt, pagination_parameters)


@blp.route("/outlets", methods=["POST"])
@blp.arguments(s.OutletIn)
@blp.response(201, s.OutletOut)
@allow(Capability.MANAGE_REGISTRY)
def create_outlet(data):
    """Register an outlet or sorting centre."""
    return services.create_outlet(db.session(), data)


@blp.route("/outlets/<code>", methods=["GET"])
@blp.response(200, s.OutletOut)
@allow(Capability.READ_REGISTRY)
def get_outlet(code):
    return outlet_for(current_user(), code)


@blp.route("/outlets/<code>", methods=["PATCH"])
@blp.arguments(s.OutletPatch)
@blp.response(200, s.OutletOut)
@allow(Capability.MANAGE_REGISTRY)
def update_outlet(data, code):
    """Edit an outlet; ``active: false`` deactivates it (nothing is ever deleted); ``screening_site_code`` names
    the sorting centre or outlet whose machines screen its parcels (代检), which recounts its verified X-ray rate."""
    return services.update_outlet(db.session(), _get(Outlet, Outlet.code, code), data, settings())


# --- X-ray machines --------------------------------------------------------------------------------------

@blp.route("/xray-machines", methods=["GET"])
@blp.arguments(s.ListArgs, location="query")
@blp.response(200, s.MachineOut(many=True))
@blp.paginate()
@allow(Capability.READ_REGISTRY)
def list_machines(args, pagination_parameters):
    return page_of(_filtered(select(XrayMachine), XrayMachine, {**args, "q": None}).order_by(XrayMachine.code),
                 pagination_parameters)


@blp.route("/xray-machines", methods=["POST"])
@blp.arguments(s.MachineIn)
@blp.response(201, s.MachineOut)
@allow(Capability.MANAGE_REGISTRY)
def create_machine(data):
    return services.create_machine(db.session(), data)


@blp.route("/xray-machines/<code>", methods=["GET"])
@blp.response(200, s.MachineOut)
@allow(Capability.READ_REGISTRY)
def get_machine(code):
    return _get(XrayMachine, XrayMachine.code, code)


@blp.route("/xray-machines/<code>", methods=["PATCH"])
@blp.arguments(s.MachinePatch)
@blp.response(200, s.MachineOut)
@allow(Capability.MANAGE_REGISTRY)
def update_machine(data, code):
    return services.update_row(db.session(), settings(), _get(XrayMachine, XrayMachine.code, code), data)


# --- staff -----------------------------------------------------------------------------------------------

@blp.route("/staff", methods=["GET"])
@blp.arguments(s.ListArgs, location="query")
@blp.response(200, s.StaffOut(many=True))
@blp.paginate()
@allow(Capability.READ_REGISTRY)
def list_staff(args, pagination_parameters):
    return page_of(_filtered(select(Staff), Staff, args).order_by(Staff.staff_id), pagination_parameters)


@blp.route("/staff", methods=["POST"])
@blp.arguments(s.StaffIn)
@blp.response(201, s.StaffOut)
@allow(Capability.MANAGE_REGISTRY)
def create_staff(data):
    return services.create_staff(db.session(), settings(), data)


@blp.route("/staff/<staff_id>", methods=["GET"])
@blp.response(200, s.StaffOut)
@allow(Capability.READ_REGISTRY)
def get_staff(staff_id):
    return _get(Staff, Staff.staff_id, staff_id)


@blp.route("/staff/<staff_id>", methods=["PATCH"])
@blp.arguments(s.StaffPatch)
@blp.response(200, s.StaffOut)
@allow(Capability.MANAGE_REGISTRY)
def update_staff(data, staff_id):
    return services.update_row(db.session(), settings(), _get(Staff, Staff.staff_id, staff_id), data)


# --- contract customers ----------------------------------------------------------------------------------

@blp.route("/contract-customers", methods=["GET"])
@blp.arguments(s.ListArgs, location="query")
@blp.response(200, s.ContractCustomerOut(many=True))
@blp.paginate()
@allow(Capability.READ_REGISTRY)
def list_contract_customers(args, pagination_parameters):
    return page_of(_filtered(select(ContractCustomer), ContractCustomer, args).order_by(ContractCustomer.code),
                 pagination_parameters)


@blp.route("/contract-customers", methods=["POST"])
@blp.arguments(s.ContractCustomerIn)
@blp.response(201, s.ContractCustomerOut)
@allow(Capability.MANAGE_REGISTRY)
def create_contract_customer(data):
    return services.create_contract_customer(db.session(), data)


@blp.route("/contract-customers/<code>", methods=["GET"])
@blp.response(200, s.ContractCustomerOut)
@allow(Capability.READ_REGISTRY)
def get_contract_customer(code):
    return _get(ContractCustomer, ContractCustomer.code, code)


@blp.route("/contract-customers/<code>", methods=["PATCH"])
@blp.arguments(s.ContractCustomerPatch)
@blp.response(200, s.ContractCustomerOut)
@allow(Capability.MANAGE_REGISTRY)
def update_contract_customer(data, code):
    return services.update_row(db.session(), settings(), _get(ContractCustomer, ContractCustomer.code, code), data)


# --- reference data --------------------------------------------------------------------------------------

@blp.route("/enterprises", methods=["GET"])
@blp.response(200, s.EnterpriseOut(many=True))
@allow(Capability.READ_REGISTRY)
def list_enterprises():
    return db.session().scalars(select(Enterprise).order_by(Enterprise.code)).all()


@blp.route("/enterprises", methods=["POST"])
@blp.arguments(s.EnterpriseIn)
@blp.response(201, s.EnterpriseOut)
@allow(Capability.MANAGE_REGISTRY)
def create_enterprise(data):
    return services.create_enterprise(db.session(), data)


@blp.route("/regions", methods=["GET"])
@blp.response(200, s.RegionOut(many=True))
@allow(Capability.READ_REGISTRY)
def list_regions():
    return db.session().scalars(select(Region).order_by(Region.code)).all()


@blp.route("/id-types", methods=["GET"])
@blp.response(200, s.IdTypeOut(many=True))
@allow(Capability.READ_REGISTRY)
def list_id_types():
    return db.session().scalars(select(IdType)).all()


@blp.route("/prohibited-categories", methods=["GET"])
@blp.response(200, s.CategoryOut(many=True))
@allow(Capability.READ_REGISTRY, Capability.TRACE)
def list_prohibited_categories():
    return db.session().scalars(select(ProhibitedCategory).order_by(ProhibitedCategory.code)).all()

