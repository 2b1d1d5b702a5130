"""The personal-data vault of the running app, and masking for roles that may not see clear text."""
from __future__ import annotations

from sqlalchemy.orm import Session

from greenshield.personal import keyring
from greenshield.settings import Settings
from inspection.identity import mask_address, mask_id_no, mask_phone
from models import PiiKeyState


def vault(session: Session, settings: Settings) -> keyring.Vault:
    """The vault with the key version the database says its data uses (keys made on first use)."""
    keys = keyring.ensure_keyring(settings.instance_path)
    state = session.get(PiiKeyState, 1)
    return keyring.Vault(keys, state.active_version if state else min(keys))


def ensure_key_state(session: Session, instance_path: str) -> int:
    """Make the keyring and record its version in the database when neither exists yet."""
    keys = keyring.ensure_keyring(instance_path)
    state = session.get(PiiKeyState, 1)
    if state is None:
        state = PiiKeyState(id=1, active_version=min(keys))
        session.add(state)
        session.flush()
    if state.active_version not in keys:
        raise keyring.PiiKeyError(f"the database uses personal-data key version {state.active_version}, "
                              f"which is not in the keyring; restore the key file or {keyring.ENV_VAR}")
    return state.active_version


def mask_name(name: str | None) -> str | None:
    """张三 -> 张*, 欧阳娜娜 -> 欧***, Smith -> S****."""
    if not name:
        return name
    return name[0] + "*" * (len(name) - 1)


def shown_id(clear: str | None, may_see: bool) -> str | None:
    if clear is None:
        return None
    return clear if may_see else mask_id_no(clear)


def shown_phone(clear: str | None, may_see: bool) -> str | None:
    if clear is None:
        return None
    return clear if may_see else mask_phone(clear)


def shown_address(clear: str | None, may_see: bool) -> str | None:
    if clear is None:
        return None
    return clear if may_see else mask_address(clear)
