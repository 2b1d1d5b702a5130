"""index sender name by day: traces by sender name over a period read the index, not the table

Revision ID: 04af1347f828
Revises: c4cabf9d8c14
Create Date: 2026-11-29 11:52:22.564666
"""
from alembic import op


revision = '04af1347f828'
down_revision = 'c4cabf9d8c14'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('collection_records', schema=None) as batch_op:
        batch_op.create_index('ix_collection_records_sender_name_day', ['sender_name', 'collected_on'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('collection_records', schema=None) as batch_op:
        batch_op.drop_index('ix_collection_records_sender_name_day')
