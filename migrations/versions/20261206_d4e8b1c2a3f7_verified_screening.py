"""verified screening: outlets' designated screening sites (a table of their own: SQLite cannot add a foreign
key to outlets in place), verified X-ray counts per outlet-day, longer
alert metric names (xray_review_overdue)

Revision ID: d4e8b1c2a3f7
Revises: c3d9a0e1f2b6
Create Date: 2026-12-06 09:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'd4e8b1c2a3f7'
down_revision = 'c3d9a0e1f2b6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'screening_sites',
        sa.Column('outlet_id', sa.Integer(), nullable=False),
        sa.Column('site_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], name=op.f('fk_screening_sites_outlet_id_outlets')),
        sa.ForeignKeyConstraint(['site_id'], ['outlets.id'], name=op.f('fk_screening_sites_site_id_outlets')),
        sa.PrimaryKeyConstraint('outlet_id', name=op.f('pk_screening_sites')),
    )
    with op.batch_alter_table('screening_sites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screening_sites_site_id'), ['site_id'], unique=False)
    with op.batch_alter_table('outlet_days', schema=None) as batch_op:
        batch_op.add_column(sa.Column('xray_verified_ok', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('metric', existing_type=sa.String(length=16), type_=sa.String(length=32),
                              existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.alter_column('metric', existing_type=sa.String(length=32), type_=sa.String(length=16),
                              existing_nullable=False)
    with op.batch_alter_table('outlet_days', schema=None) as batch_op:
        batch_op.drop_column('xray_verified_ok')
    with op.batch_alter_table('screening_sites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screening_sites_site_id'))
    op.drop_table('screening_sites')
