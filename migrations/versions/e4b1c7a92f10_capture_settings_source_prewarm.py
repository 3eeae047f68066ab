"""Saved heatmaps: capture settings (secrets encrypted), screenshot source, prewarm flag

Revision ID: e4b1c7a92f10
Revises: e15a7c0de001
Create Date: 2026-12-01 12:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "e4b1c7a92f10"
down_revision = 'e15a7c0de001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("saved_heatmap", schema=None) as batch_op:
        batch_op.add_column(sa.Column("capture_settings", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=20), server_default="server", nullable=False))
        batch_op.add_column(sa.Column("is_prewarm", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade():
    with op.batch_alter_table("saved_heatmap", schema=None) as batch_op:
        batch_op.drop_column("is_prewarm")
        batch_op.drop_column("source")
        batch_op.drop_column("capture_settings")
