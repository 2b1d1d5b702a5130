"""Account routes: who am I, my API tokens, and (admins) user accounts."""
from __future__ import annotations

from flask_smorest import Blueprint
from sqlalchemy import select

from greenshield import db
from greenshield.auth import services
from greenshield.auth.permissions import Capability
from greenshield.auth.policy import allow, current_user
from greenshield.auth.schemas import NewTokenOut, TokenIn, TokenOut, UserIn, UserOut, UserPatch
from greenshield.errors import NotFound
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
    """A new bearer token for the caller, valid ``days`` days; the token is in this response only."""
    token, plain = services.issue_token(db.session(), current_user(), days=data["days"])
    return {**{k: getattr(token, k) for k in ("id", "prefix", "created_at", "expires_at", "revoked_at",
                                                 "last_used_at")}, "token": plain}


@blp.route("/tokens/<int:token_id>", methods=["DELETE"])
@blp.response(200, TokenOut)
@allow(Capability.SIGN_IN)
def revoke_token(token_id):
    """Revoke one of the caller's tokens (admins: anyone's)."""
    return services.revoke_token(db.session(), current_user(), token_id)


@blp.route("/users", methods=["GET"])
@blp.response(200, UserOut(many=True))
@allow(Capability.MANAGE_USERS)
def list_users():
    return db.session().scalars(select(User).order_by(User.username)).all()


@blp.route("/users", methods=["POST"])
@blp.arguments(UserIn)
@blp.response(201, UserOut)
@allow(Capability.MANAGE_USERS)
def create_user(data):
    """Create an account; inspectors need ``region_code``, outlet managers ``outlet_codes``."""
    return services.create_user(db.session(), username=data["username"], password=data["password"],
                                role=Role(data["role"]), region_code=data["region_code"],
                                outlet_codes=data["outlet_codes"], display_name=data["display_name"],
                                agency=data["agency"])


@blp.route("/users/<username>", methods=["GET"])
@blp.response(200, UserOut)
@allow(Capability.MANAGE_USERS)
def get_user(username):
    return _user(username)


@blp.route("/users/<username>", methods=["PATCH"])
@blp.arguments(UserPatch)
@blp.response(200, UserOut)
@allow(Capability.MANAGE_USERS)
def update_user(data, username):
    """Rename, deactivate (``active: false``), reset the password of, or unlock an account."""
    user = _user(username)
    if "password" in data:
        user.password_hash = services.hash_password(data.pop("password"))
    if data.pop("unlock", False):
        user.locked_until, user.failed_logins = None, 0
    for key, value in data.items():
        setattr(user, key, value)
    return user


def _user(username: str) -> User:
    user = db.session().scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound("not_found.user", username=username)
    return user
