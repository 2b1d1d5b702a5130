"""Key rotation: a new key version, every ciphertext and blind index re-made under it, no data lost."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from greenshield.personal import archive, ensure_key_state, keyring
from greenshield.personal.keyring import REJECTED_ROW
from greenshield.storage import FileSystemStorage, Storage
from inspection.columns import ENCRYPTED, Personal, content_hash, purpose
from models import CollectionRecord, Finding, PiiKeyState, RejectedRow, Staff, utcnow

BATCH = 2000


def rotate_keys(session: Session, instance_path: str, files: Storage | None = None) -> tuple[int, dict[str, int]]:
    """Add key version N+1 to the keyring, re-encrypt rows and archives under it, record it as active.

    The keyring keeps the old versions, so a rotation interrupted at any point leaves everything readable:
    the database switches to the new version only when its transaction commits. Flushes, does not commit.
    ``files``: the storage of the archive (default: the file system under ``instance_path``).
    """
    old_version = ensure_key_state(session, instance_path)
    keys = keyring.load_keyring(instance_path)
    new_version = max(keys) + 1
    keys[new_version] = keyring.new_key(new_version)
    keyring.write_keyring(instance_path, keys)
    old, new = keyring.Vault(keys, old_version), keyring.Vault(keys, new_version)
    records = _rotate_records(session, old, new)
    staff = 0
    for member in session.scalars(select(Staff).where(Staff.id_no_enc.is_not(None))):
        clear = old.decrypt(member.id_no_enc, keyring.STAFF_ID_NO)
        member.id_no_enc = new.encrypt(clear, keyring.STAFF_ID_NO)
        member.id_no_hmac = new.index(clear, keyring.ID_NO)
        staff += 1
    rejected = 0
    for row in session.scalars(select(RejectedRow)).all():
        row.values_enc = new.encrypt(old.decrypt(row.values_enc, REJECTED_ROW), REJECTED_ROW)
        rejected += 1
    storage = files or FileSystemStorage(instance_path)
    keys_done = archive.archived(storage)
    for key in keys_done:
        archive.reencrypt(storage, key, new, Path(instance_path) / "tmp")
    state = session.get(PiiKeyState, 1)
    state.active_version, state.rotated_at = new_version, utcnow()
    session.flush()
    return new_version, {"records": records, "staff": staff, "rejected rows": rejected,
                         "archived files": len(keys_done)}


def _rotate_records(session: Session, old: keyring.Vault, new: keyring.Vault) -> int:
    done, last_id = 0, 0
    while True:
        rows = session.scalars(select(CollectionRecord).where(CollectionRecord.id > last_id)
                               .order_by(CollectionRecord.id).limit(BATCH)).all()
        if not rows:
            return done
        updates = []
        rekeyed = {}
        for r in rows:
            update_ = {"id": r.id}
            indexes = []
            for column in ENCRYPTED:  # which columns are personal data, and where: inspection.columns
                enc, index = column.stored_in
                clear = old.decrypt(getattr(r, enc), purpose(column))
                update_[enc], update_[index] = new.encrypt(clear, purpose(column)), new.index(clear, purpose(column))
                indexes.append(update_[index])
                if column.personal is Personal.ID_NO and getattr(r, index):
                    rekeyed[getattr(r, index)] = update_[index]
            update_["content_hash"] = content_hash(r, tuple(indexes))
            updates.append(update_)
        session.execute(update(CollectionRecord), updates)
        _rekey_findings(session, rekeyed)
        session.expunge_all()
        done += len(rows)
        last_id = rows[-1].id


def _rekey_findings(session: Session, new_index: dict[str, str]) -> None:
    """Findings about one ID are keyed by its blind index: move them to the new one, so that screening after
    the rotation adds to them instead of opening a second finding for the same ID and day."""
    for finding in session.scalars(select(Finding).where(Finding.subject.in_(list(new_index)))):
        finding.subject = new_index[finding.subject]
    session.flush()

