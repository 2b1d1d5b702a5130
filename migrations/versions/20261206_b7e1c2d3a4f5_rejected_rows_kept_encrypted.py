"""rejected rows kept encrypted: the cells of each rejected row, for an error report that shows them

Revision ID: b7e1c2d3a4f5
Revises: 329e02d255f5
Create Date: 2026-12-06 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'b7e1c2d3a4f5'
down_revision = '329e02d255f5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rejected_rows',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('batch_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('row', sa.Integer(), nullable=False),
        sa.Column('values_enc', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['batch_id'], ['upload_batches.id'],
                                name=op.f('fk_rejected_rows_batch_id_upload_batches')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rejected_rows')),
        sa.UniqueConstraint('batch_id', 'row', name=op.f('uq_rejected_rows_batch_id_row')),
    )
    with op.batch_alter_table('rejected_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rejected_rows_batch_id'), ['batch_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejected_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rejected_rows_batch_id'))
    op.drop_table('rejected_rows')
