"""Teams: soft-deleted projects, organization-scoped keys, invitations; the owner level becomes admin

Revision ID: 5e1f0c7a9b3d
Revises: d000a2e0a3d1
Create Date: 2026-12-01 12:45:00.000000

"""
from alembic import op
import sqlalchemy as sa

from heatmap_app.models.base import UTCDateTime


# revision identifiers, used by Alembic.
revision = '5e1f0c7a9b3d'
down_revision = 'd000a2e0a3d1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deleted', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.alter_column('deleted', server_default=None)
    with op.batch_alter_table('personal_api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scoped_organizations', sa.JSON(), nullable=True))
    # Two roles from now on: whoever owned an organization administers it.
    membership = sa.table('organization_membership', sa.column('level', sa.String(length=20)))
    op.execute(membership.update().where(membership.c.level == 'owner').values(level='admin'))
    op.create_table(
        'organization_invite',
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('organization_id', sa.String(length=36), nullable=False),
        sa.Column('target_email', sa.String(length=254), nullable=False),
        sa.Column('level', sa.String(length=20), nullable=False),
        sa.Column('token_hash', sa.String(length=80), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('accepted_at', UTCDateTime(), nullable=True),
        sa.Column('emailed', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['user.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['organization_id'], ['organization.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    with op.batch_alter_table('organization_invite', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organization_invite_organization_id'), ['organization_id'], unique=False)


def downgrade():
    with op.batch_alter_table('organization_invite', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organization_invite_organization_id'))
    op.drop_table('organization_invite')
    with op.batch_alter_table('personal_api_key', schema=None) as batch_op:
        batch_op.drop_column('scoped_organizations')
    with op.batch_alter_table('project', schema=None) as batch_op:
        batch_op.drop_column('deleted')
