"""safety incidents, emergency plans and drills (issue 17)

Incidents with their suggested and confirmed grade, first-report deadline and lateness, follow-up reports and
attachments; each enterprise's emergency plans (version, valid until, document) and drills.

Revision ID: c3d4e5f60718
Revises: b7e1c2d3a4f5
Create Date: 2026-12-06 08:52:14.729125
"""
from alembic import op
import sqlalchemy as sa
import models.base


revision = 'c3d4e5f60718'
down_revision = 'b7e1c2d3a4f5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('emergency_drills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('scenario', sa.String(length=200), nullable=False),
    sa.Column('participants', sa.Integer(), nullable=False),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_emergency_drills_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_emergency_drills_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_drills'))
    )
    with op.batch_alter_table('emergency_drills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_drills_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('emergency_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=32), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=True),
    sa.Column('content_type', sa.String(length=64), nullable=True),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_emergency_plans_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name=op.f('fk_emergency_plans_filed_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_emergency_plans'))
    )
    with op.batch_alter_table('emergency_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_plans_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('outlet_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('prohibited_item', 'explosion', 'leak', 'fire', 'violence_threat', 'backlog', 'data_leak', 'natural_disaster', 'other', name='incident_type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('occurred_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reported_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reported_by_id', sa.Integer(), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('casualties', sa.Integer(), nullable=False),
    sa.Column('records_affected', sa.Integer(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=True),
    sa.Column('grade_suggested', sa.Enum('I', 'II', 'III', 'IV', name='incident_grade_suggested', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('grade', sa.Enum('I', 'II', 'III', 'IV', name='incident_grade', native_enum=False, create_constraint=True), nullable=True),
    sa.Column('grade_confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('grade_confirmed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('report_due_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.Column('escalated_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('status', sa.Enum('reported', 'confirmed', 'closed', name='incident_status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_incidents_closed_by_id_users')),
    sa.ForeignKeyConstraint(['grade_confirmed_by_id'], ['users.id'], name=op.f('fk_incidents_grade_confirmed_by_id_users')),
    sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], name=op.f('fk_incidents_outlet_id_outlets')),
    sa.ForeignKeyConstraint(['reported_by_id'], ['users.id'], name=op.f('fk_incidents_reported_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_outlet_id'), ['outlet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_reported_at'), ['reported_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_status'), ['status'], unique=False)

    op.create_table('incident_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('storage_key', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_attachments_incident_id_incidents')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['users.id'], name=op.f('fk_incident_attachments_uploaded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_attachments'))
    )
    with op.batch_alter_table('incident_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_attachments_incident_id'), ['incident_id'], unique=False)

    op.create_table('incident_updates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_incident_updates_author_id_users')),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_incident_updates_incident_id_incidents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident_updates'))
    )
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_updates_incident_id'), ['incident_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('incident_updates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_updates_incident_id'))

    op.drop_table('incident_updates')
    with op.batch_alter_table('incident_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_attachments_incident_id'))

    op.drop_table('incident_attachments')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_status'))
        batch_op.drop_index(batch_op.f('ix_incidents_reported_at'))
        batch_op.drop_index(batch_op.f('ix_incidents_outlet_id'))

    op.drop_table('incidents')
    with op.batch_alter_table('emergency_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_plans_enterprise_id'))

    op.drop_table('emergency_plans')
    with op.batch_alter_table('emergency_drills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_emergency_drills_enterprise_id'))

    op.drop_table('emergency_drills')
