"""Account routes: who am I, my API tokens, and (admins) user accounts and the administrators' action log."""
from __future__ import annotations

from flask import g
from flask_smorest import Blueprint
from sqlalchemy import select

from greenshield import db
from greenshield.admin import services as admin
from greenshield.auth import services
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user
from greenshield.auth.schemas import (AdminActionArgs, AdminActionOut, NewTokenOut, TokenIn, TokenOut, UserIn,
                                      UserOut, UserPatch)
from greenshield.context import actor, settings
from greenshield.errors import Invalid, NotFound
from greenshield.pagination import page_of
from models import ApiToken, Role, User

blp = Blueprint("accounts", __name__, url_prefix="/api/v1", description="Accounts and API tokens")


@blp.route("/me", methods=["GET"])
@blp.response(200, UserOut)
@allow(Capability.SIGN_IN)
def me():
    """The signed-in user, with role and scope."""
    return current_user()


@blp.route("/tokens", methods=["GET"])
@blp.response(200, TokenOut(many=True))
@allow(Capability.SIGN_IN)
def list_tokens():
    """The caller's own API tokens (never the tokens themselves)."""
    return db.session().scalars(select(ApiToken).where(ApiToken.user_id == current_user().id)
                                .order_by(ApiToken.id.desc())).all()


@blp.route("/tokens", methods=["POST"])
@blp.arguments(TokenIn)
@blp.response(201, NewTokenOut)
@allow(Capability.SIGN_IN)
def create_token(data):
    """A new bearer token for the caller, valid ``days`` days (at most ``TOKEN_MAX_DAYS``, 90 by default); the
    token is in this response only. From a browser session the caller's ``password`` is required again; a
    token minted with a bearer token expires no later than that token."""
    session, user = db.session(), current_user()
    not_after = None
    if g.get("auth_method") == "token":
        not_after = services.token_for(session, g.token_plain).expires_at
    elif not services.verify_password(user, data.get("password") or ""):
        raise Invalid("validation_error.wrong_password", field="password")
    token, plain = services.issue_token(session, user, days=data["days"], max_days=settings().token_max_days,
                                        not_after=not_after)
    return {**{k: getattr(token, k) for k in ("id", "prefix", "created_at", "expires_at", "revoked_at",
                                                 "last_used_at")}, "token": plain}


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(200, TokenOut)
@allow(Capability.SIGN_IN)
def revoke_token(token_id):
    """Revoke one of the caller's tokens (admins: anyone's)."""
    session, user = db.session(), current_user()
    token = services.revoke_token(session, user, token_id)
    if token.user_id != user.id:
        admin.record(session, actor(), "revoke_token", token.user, token=token.prefix)
    return token


def _annotated(users):
    session = db.session()
    for user in users:
        user.throttled = services.throttled(session, user.username)
    return users


@blp.route("/users", methods=["GET"])
@blp.response(200, UserOut(many=True))
@allow(Capability.MANAGE_USERS)
def list_users():
    return _annotated(db.session().scalars(select(User).order_by(User.username)).all())


@blp.route("/users", methods=["POST"])
@blp.arguments(UserIn)
@blp.response(201, UserOut)
@allow(Capability.MANAGE_USERS)
def create_user(data):
    """Create an account; inspectors need ``region_code``, outlet managers ``outlet_codes``."""
    session = db.session()
    user = services.create_user(session, username=data["username"], password=data["password"],
                                role=Role(data["role"]), region_code=data["region_code"],
                                outlet_codes=data["outlet_codes"], display_name=data["display_name"],
                                agency=data["agency"])
    admin.record(session, actor(), "create", user, role=user.role.value, region=user.region_code,
                 outlets=sorted(o.code for o in user.outlets))
    return user


@blp.route("/users/<username>", methods=["GET"])
@blp.response(200, UserOut)
@allow(Capability.MANAGE_USERS)
def get_user(username):
    return _annotated([_user(username)])[0]


@blp.route("/users/<username>", methods=["PATCH"])
@blp.arguments(UserPatch)
@blp.response(200, UserOut)
@allow(Capability.MANAGE_USERS)
def update_user(data, username):
    """Rename, deactivate (``active: false``) or reactivate, reset the password of (the user must change it at
    the next sign-in; their sessions and tokens end), or unlock (clear the sign-in throttling of) an account."""
    session, user, who = db.session(), _user(username), actor()
    if "password" in data:
        services.hash_password(data["password"])  # refuse a short one before anything changes
    if "display_name" in data and data["display_name"] != user.display_name:
        admin.record(session, who, "change", user, display_name=[user.display_name, data["display_name"]])
        user.display_name = data["display_name"]
    if "active" in data:
        admin.set_active(session, who, user, data["active"])
    if "password" in data:
        admin.reset_password(session, who, user, data["password"])
    if data.get("unlock"):
        admin.unlock(session, who, user)
    return _annotated([user])[0]


@blp.route("/admin-actions", methods=["GET"])
@blp.arguments(AdminActionArgs, location="query")
@blp.response(200, AdminActionOut(many=True))
@blp.paginate()
@allow(Capability.READ_ADMIN_LOG)
def admin_actions(args, pagination_parameters):
    """The administrators' actions on accounts, newest first (auditors and administrators)."""
    return page_of(admin.actions(args.get("user"), args.get("actor"), args.get("action")), pagination_parameters)


def _user(username: str) -> User:
    user = db.session().scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("not_found.user", username=username)
    return user
