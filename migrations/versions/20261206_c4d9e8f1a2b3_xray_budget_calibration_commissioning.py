"""X-ray false-flag budget, per-machine calibration and per-machine models

Revision ID: c4d9e8f1a2b3
Revises: c3d4e5f60718
Create Date: 2026-12-06 09:10:00
"""
from alembic import op
import sqlalchemy as sa

import models.base

revision = 'c4d9e8f1a2b3'
down_revision = 'c3d4e5f60718'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('xray_model_versions', sa.Column('false_flag_budget', sa.Float(), nullable=True))
    op.add_column('xray_events', sa.Column('threshold', sa.Float(), nullable=True))
    op.create_table(
        'xray_machine_models',
        sa.Column('machine_id', sa.Integer(), nullable=False),
        sa.Column('model_version_id', sa.Integer(), nullable=False),
        sa.Column('assigned_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['machine_id'], ['xray_machines.id'],
                                name=op.f('fk_xray_machine_models_machine_id_xray_machines')),
        sa.ForeignKeyConstraint(['model_version_id'], ['xray_model_versions.id'],
                                name=op.f('fk_xray_machine_models_model_version_id_xray_model_versions')),
        sa.PrimaryKeyConstraint('machine_id', name=op.f('pk_xray_machine_models')),
    )
    with op.batch_alter_table('xray_machine_models', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_xray_machine_models_model_version_id'), ['model_version_id'],
                              unique=False)
    op.create_table(
        'xray_calibrations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('machine_id', sa.Integer(), nullable=False),
        sa.Column('model_version', sa.String(length=64), nullable=False),
        sa.Column('threshold', sa.Float(), nullable=False),
        sa.Column('scans_used', sa.Integer(), nullable=False),
        sa.Column('false_flag_budget', sa.Float(), nullable=False),
        sa.Column('calibrated_at', models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['machine_id'], ['xray_machines.id'],
                                name=op.f('fk_xray_calibrations_machine_id_xray_machines')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_xray_calibrations')),
    )
    with op.batch_alter_table('xray_calibrations', schema=None) as batch_op:
        batch_op.create_index('ix_xray_calibrations_machine_at', ['machine_id', 'calibrated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('xray_calibrations', schema=None) as batch_op:
        batch_op.drop_index('ix_xray_calibrations_machine_at')
    op.drop_table('xray_calibrations')
    with op.batch_alter_table('xray_machine_models', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_xray_machine_models_model_version_id'))
    op.drop_table('xray_machine_models')
    with op.batch_alter_table('xray_events', schema=None) as batch_op:
        batch_op.drop_column('threshold')
    with op.batch_alter_table('xray_model_versions', schema=None) as batch_op:
        batch_op.drop_column('false_flag_budget')
