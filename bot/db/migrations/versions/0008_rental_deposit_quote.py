"""rental deposit quote (escrow v2: deposits carry the operator's signed quote)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 09:40:00.000000
"""
from alembic import op
import sqlalchemy as sa
import bot.db.base


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('rentals', schema=None) as batch_op:
        batch_op.add_column(sa.Column('quote_expires_at', bot.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('quote_signature', sa.String(length=132), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('rentals', schema=None) as batch_op:
        batch_op.drop_column('quote_signature')
        batch_op.drop_column('quote_expires_at')
