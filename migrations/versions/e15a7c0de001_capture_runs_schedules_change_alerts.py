"""Capture runs: every capture of a saved heatmap kept with its own snapshots; recapture schedules; change alerts

Revision ID: e15a7c0de001
Revises: 5e1f0c7a9b3d
Create Date: 2026-12-01 13:00:00.000000

"""
from alembic import op
import sqlalchemy as sa

import heatmap_app.models.base


# revision identifiers, used by Alembic.
revision = 'e15a7c0de001'
down_revision = '5e1f0c7a9b3d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('capture_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('heatmap_id', sa.String(length=36), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=20), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('target_widths', sa.JSON(), nullable=False),
    sa.Column('block_consent_modals', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('exception', sa.Text(), nullable=True),
    sa.Column('started_at', heatmap_app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', heatmap_app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('compared_with_generation', sa.Integer(), nullable=True),
    sa.Column('changed_share', sa.Float(), nullable=True),
    sa.Column('height_change', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['heatmap_id'], ['saved_heatmap.id'], name=op.f('fk_capture_run_heatmap_id_saved_heatmap'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_capture_run')),
    sa.UniqueConstraint('heatmap_id', 'generation', name=op.f('uq_capture_run_heatmap_id'))
    )
    with op.batch_alter_table('capture_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_capture_run_heatmap_id'), ['heatmap_id'], unique=False)

    with op.batch_alter_table('saved_heatmap', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recapture_frequency', sa.String(length=10), nullable=False, server_default='off'))
        batch_op.add_column(sa.Column('recapture_hour', sa.Integer(), nullable=False, server_default='6'))
        batch_op.add_column(sa.Column('recapture_weekday', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('schedule_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('change_webhook_url', sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column('change_webhook_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('changed_at', heatmap_app.models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('saved_heatmap', schema=None) as batch_op:
        for column in ('recapture_frequency', 'recapture_hour', 'recapture_weekday', 'schedule_version'):
            batch_op.alter_column(column, server_default=None)

    with op.batch_alter_table('heatmap_snapshot', schema=None) as batch_op:
        batch_op.add_column(sa.Column('generation', sa.Integer(), nullable=False, server_default='0'))
    # Existing screenshots belong to their heatmap's current generation, which becomes its first kept run.
    connection = op.get_bind()
    heatmap = sa.table('saved_heatmap', sa.column('id', sa.String()), sa.column('capture_generation', sa.Integer()),
                       sa.column('url', sa.String()), sa.column('target_widths', sa.JSON()),
                       sa.column('block_consent_modals', sa.Boolean()), sa.column('status', sa.String()),
                       sa.column('exception', sa.Text()), sa.column('created_at', sa.DateTime()),
                       sa.column('updated_at', sa.DateTime()))
    snapshot = sa.table('heatmap_snapshot', sa.column('heatmap_id', sa.String()), sa.column('generation', sa.Integer()))
    run = sa.table('capture_run', *(sa.column(name) for name in (
        'heatmap_id', 'generation', 'trigger', 'url', 'target_widths', 'block_consent_modals', 'status', 'exception',
        'started_at', 'ended_at')))
    connection.execute(snapshot.update().values(generation=sa.select(heatmap.c.capture_generation)
                                                .where(heatmap.c.id == snapshot.c.heatmap_id).scalar_subquery()))
    connection.execute(run.insert().from_select(
        ['heatmap_id', 'generation', 'trigger', 'url', 'target_widths', 'block_consent_modals', 'status', 'exception',
         'started_at', 'ended_at'],
        sa.select(heatmap.c.id, heatmap.c.capture_generation, sa.literal('create'), heatmap.c.url,
                  heatmap.c.target_widths, heatmap.c.block_consent_modals, heatmap.c.status, heatmap.c.exception,
                  heatmap.c.created_at,
                  sa.case((heatmap.c.status == 'processing', None), else_=heatmap.c.updated_at))
        .where(heatmap.c.capture_generation > 0)))
    with op.batch_alter_table('heatmap_snapshot', schema=None) as batch_op:
        batch_op.alter_column('generation', server_default=None)
        batch_op.drop_constraint('uq_heatmap_snapshot_heatmap_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_heatmap_snapshot_heatmap_id'), ['heatmap_id', 'generation', 'width'])


def downgrade():
    # Only the current run's screenshots can stay: (heatmap, width) is unique again.
    connection = op.get_bind()
    connection.execute(sa.text(
        "DELETE FROM heatmap_snapshot WHERE generation <> "
        "(SELECT capture_generation FROM saved_heatmap WHERE saved_heatmap.id = heatmap_snapshot.heatmap_id)"))
    with op.batch_alter_table('heatmap_snapshot', schema=None) as batch_op:
        batch_op.drop_constraint('uq_heatmap_snapshot_heatmap_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_heatmap_snapshot_heatmap_id'), ['heatmap_id', 'width'])
        batch_op.drop_column('generation')
    with op.batch_alter_table('saved_heatmap', schema=None) as batch_op:
        for column in ('changed_at', 'change_webhook_secret', 'change_webhook_url', 'schedule_version',
                       'recapture_weekday', 'recapture_hour', 'recapture_frequency'):
            batch_op.drop_column(column)
    with op.batch_alter_table('capture_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_capture_run_heatmap_id'))
    op.drop_table('capture_run')
