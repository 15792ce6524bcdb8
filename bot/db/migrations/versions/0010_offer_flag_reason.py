"""offer flag reason and count

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flag_reason', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('flags', sa.Integer(), server_default='0', nullable=False))
    # offers are listed only with a verified host and a provider wallet (bot.domain.listing): active
    # offers without them wait as unlisted (their old posts stay until the offer is listed or changed)
    op.execute("UPDATE offers SET status = 'unlisted' WHERE status = 'active' AND ("
               "host_id IS NULL OR host_id IN (SELECT id FROM hosts WHERE verified_at IS NULL OR host_key IS NULL) "
               "OR provider_id IN (SELECT p.id FROM providers p JOIN users u ON u.id = p.user_id "
               "WHERE u.wallet_address IS NULL))")


def downgrade() -> None:
    op.execute("UPDATE offers SET status = 'paused' WHERE status = 'unlisted'")
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_column('flags')
        batch_op.drop_column('flag_reason')
