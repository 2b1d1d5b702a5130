"""every audit has its checklist entries from its creation on (the audit page no longer makes them when read)

Revision ID: 7d1e0c3a9b21
Revises: 5a7c2221703e
Create Date: 2026-12-06 08:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '7d1e0c3a9b21'
down_revision = '5a7c2221703e'
branch_labels = None
depends_on = None

# The checklist as it stood when this revision was written (audits/checklist.py may grow later).
ITEMS = ("rules_posted", "video_coverage", "staff_training", "licence_filing", "xray_full", "inspection",
         "real_name_records", "prohibited_found")


def upgrade() -> None:
    connection = op.get_bind()
    entries = sa.table("checklist_entries", sa.column("audit_id", sa.Integer), sa.column("item", sa.String),
                       sa.column("position", sa.Integer))
    audits = connection.execute(sa.text(
        "SELECT a.id FROM audits a WHERE NOT EXISTS (SELECT 1 FROM checklist_entries e WHERE e.audit_id = a.id)"
    )).scalars().all()
    rows = [{"audit_id": audit_id, "item": item, "position": position}
            for audit_id in audits for position, item in enumerate(ITEMS)]
    if rows:
        op.bulk_insert(entries, rows)


def downgrade() -> None:
    pass  # entries of untouched audits are harmless; an older release makes them itself
