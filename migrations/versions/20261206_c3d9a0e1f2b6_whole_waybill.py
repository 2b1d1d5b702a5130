"""the whole waybill: sender address, recipient, destination and letters on collection records

Revision ID: c3d9a0e1f2b6
Revises: c4d9e8f1a2b3
Create Date: 2026-12-06 09:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c3d9a0e1f2b6'
down_revision = 'c4d9e8f1a2b3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('collection_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_address_enc', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('sender_address_hmac', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('recipient_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('recipient_phone_enc', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('recipient_phone_hmac', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('recipient_address_enc', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('recipient_address_hmac', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('destination_region', sa.String(length=6), nullable=True))
        batch_op.add_column(sa.Column('is_letter', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index(batch_op.f('ix_collection_records_recipient_phone_hmac'), ['recipient_phone_hmac'],
                              unique=False)
        batch_op.create_index('ix_collection_records_recipient_name_day', ['recipient_name', 'collected_on'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('collection_records', schema=None) as batch_op:
        batch_op.drop_index('ix_collection_records_recipient_name_day')
        batch_op.drop_index(batch_op.f('ix_collection_records_recipient_phone_hmac'))
        for name in ('is_letter', 'destination_region', 'recipient_address_hmac', 'recipient_address_enc',
                     'recipient_phone_hmac', 'recipient_phone_enc', 'recipient_name', 'sender_address_hmac',
                     'sender_address_enc'):
            batch_op.drop_column(name)
