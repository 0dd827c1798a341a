"""rewards: the RewardsDistributor's roots, claims, funding and per-account state

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06 23:15:00.000000

An index built before this revision never read the distributor's events: the indexer re-reads
it from the deploy block when it next starts (its deployment identity now names the
distributor; see ``Indexer._claim_identity``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _where() -> list[sa.Column[object]]:
    return [
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "rewards_roots",
        *_where(),
        sa.Column("root", sa.String(length=66), nullable=False),
        sa.Column("total", sa.String(length=78), nullable=False),
        sa.Column("through", sa.BigInteger(), nullable=False),
        sa.Column("released", sa.String(length=78), nullable=False),
        sa.Column("fee_average", sa.String(length=78), nullable=False),
        sa.Column("activates_at", sa.BigInteger(), nullable=False),
        sa.Column("vetoed", sa.Boolean(), nullable=False),
        sa.Column("vetoed_by", sa.String(length=42), nullable=True),
        sa.Column("veto_reason", sa.Text(), nullable=True),
        sa.Column("vetoed_block", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    with op.batch_alter_table("rewards_roots", schema=None) as batch_op:
        batch_op.create_index("ix_rewards_roots_root", ["root"], unique=False)

    op.create_table(
        "rewards_claims",
        *_where(),
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.String(length=78), nullable=False),
        sa.Column("cumulative", sa.String(length=78), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    with op.batch_alter_table("rewards_claims", schema=None) as batch_op:
        batch_op.create_index("ix_rewards_claims_account", ["account"], unique=False)

    op.create_table(
        "rewards_funding",
        *_where(),
        sa.Column("funder", sa.String(length=42), nullable=False),
        sa.Column("amount", sa.String(length=78), nullable=False),
        sa.PrimaryKeyConstraint("block_number", "log_index"),
    )
    op.create_table(
        "rewards_accounts",
        sa.Column("account", sa.String(length=42), nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("claimed", sa.String(length=78), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account"),
    )


def downgrade() -> None:
    op.drop_table("rewards_accounts")
    op.drop_table("rewards_funding")
    with op.batch_alter_table("rewards_claims", schema=None) as batch_op:
        batch_op.drop_index("ix_rewards_claims_account")
    op.drop_table("rewards_claims")
    with op.batch_alter_table("rewards_roots", schema=None) as batch_op:
        batch_op.drop_index("ix_rewards_roots_root")
    op.drop_table("rewards_roots")
