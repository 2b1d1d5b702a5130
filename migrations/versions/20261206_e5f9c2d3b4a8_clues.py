"""clues: seized and referred X-ray events followed through to another agency

Revision ID: e5f9c2d3b4a8
Revises: d4e8b1c2a3f7
Create Date: 2026-12-06 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5f9c2d3b4a8'
down_revision = 'd4e8b1c2a3f7'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # PostgreSQL partitions xray_events by month: no foreign key can refer to its id alone (as xray_reviews)
    event_key = [] if op.get_bind().dialect.name == "postgresql" else [
        sa.ForeignKeyConstraint(['event_id'], ['xray_events.id'], name=op.f('fk_clues_event_id_xray_events'))]
    op.create_table(
        'clues',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('waybill_no', sa.String(length=32), nullable=False),
        sa.Column('outlet_id', sa.Integer(), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('category_code', sa.Integer(), nullable=True),
        sa.Column('status', sa.Enum('open', 'handed_over', 'closed', name='clue_status', native_enum=False,
                                    create_constraint=True, length=11), nullable=False),
        sa.Column('agency', sa.String(length=128), nullable=True),
        sa.Column('agency_case_no', sa.String(length=64), nullable=True),
        sa.Column('outcome', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('handed_over_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('handled_by_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['category_code'], ['prohibited_categories.code'],
                                name=op.f('fk_clues_category_code_prohibited_categories')),
        sa.ForeignKeyConstraint(['handled_by_id'], ['users.id'], name=op.f('fk_clues_handled_by_id_users')),
        sa.ForeignKeyConstraint(['outlet_id'], ['outlets.id'], name=op.f('fk_clues_outlet_id_outlets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_clues')),
        sa.UniqueConstraint('event_id', name=op.f('uq_clues_event_id')),
        *event_key,
    )
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_clues_outlet_id'), ['outlet_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_clues_waybill_no'), ['waybill_no'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_clues_waybill_no'))
        batch_op.drop_index(batch_op.f('ix_clues_status'))
        batch_op.drop_index(batch_op.f('ix_clues_outlet_id'))
    op.drop_table('clues')
