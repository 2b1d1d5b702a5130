"""batch errors as codes: each rejected row's problem as a code and parameters instead of an English sentence

Rows stored before keep what they said: code ``legacy`` with their English message as the parameter
``message``. Downgrading writes each row's message back (a coded row gets its code as message).

Revision ID: d5d720c0f05b
Revises: 7d1e0c3a9b21
Create Date: 2026-11-30 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'd5d720c0f05b'
down_revision = '7d1e0c3a9b21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('batch_errors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('code', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('params', sa.JSON(), nullable=True))
    json_object = 'json_build_object' if op.get_bind().dialect.name == 'postgresql' else 'json_object'
    op.execute(f"UPDATE batch_errors SET code = 'legacy', params = {json_object}('message', message)")
    with op.batch_alter_table('batch_errors', schema=None) as batch_op:
        batch_op.alter_column('code', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('params', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('message')


def downgrade() -> None:
    with op.batch_alter_table('batch_errors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message', sa.String(length=255), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE batch_errors SET message = left(coalesce(params->>'message', code), 255)")
    else:
        op.execute("UPDATE batch_errors SET message = substr(coalesce(json_extract(params, '$.message'), code), 1, 255)")
    with op.batch_alter_table('batch_errors', schema=None) as batch_op:
        batch_op.alter_column('message', existing_type=sa.String(length=255), nullable=False)
        batch_op.drop_column('params')
        batch_op.drop_column('code')
