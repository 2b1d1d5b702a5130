"""X-ray machines: a recalibration asked for when their model changed, done in the background

Revision ID: d5e6f7a8b9c0
Revises: e5f9c2d3b4a8
Create Date: 2026-12-06 10:10:00
"""
from alembic import op
import sqlalchemy as sa

import models.base

revision = 'd5e6f7a8b9c0'
down_revision = 'e5f9c2d3b4a8'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('xray_machines', sa.Column('calibration_due_at', models.base.UTCDateTime(timezone=True),
                                             nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('xray_machines', schema=None) as batch_op:
        batch_op.drop_column('calibration_due_at')
