"""rollup by country, ICCS code and victim sex

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

A small rollup for the common rates and tables (docs/benchmarks.md: the table query of the
benchmark runs in a fifth of the time). Incidents already stored get their rows here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "rollup_national_sex",
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("owner_agency", sa.Text(), nullable=True),
        sa.Column("handling_code", sa.String(length=12), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("month", sa.Integer(), nullable=True),
        sa.Column("iccs_code", sa.Text(), nullable=True),
        sa.Column("sex", sa.Text(), nullable=True),
        sa.Column("incidents", sa.BigInteger(), nullable=False),
        sa.Column("victims", sa.BigInteger(), nullable=False),
    )
    from safestreets.store.aggregates import rebuild_rollups

    rebuild_rollups(op.get_bind(), grains=("national_sex",))


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table("rollup_national_sex")
