"""User session token: login sessions that a logout or a password change ends everywhere

Revision ID: 3c8e51d0a7b2
Revises: 7bf3a9e0620d
Create Date: 2026-12-01 09:00:00.000000

"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c8e51d0a7b2'
down_revision = '7bf3a9e0620d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    # A token of its own per existing user; sessions from before the upgrade carry none and end.
    user = sa.table('user', sa.column('id', sa.Integer()), sa.column('session_token', sa.String(length=64)))
    connection = op.get_bind()
    for user_id in connection.execute(sa.select(user.c.id)).scalars().all():
        connection.execute(user.update().where(user.c.id == user_id).values(session_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('session_token')
