"""alert change versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

Each alert row carries the alert_state version of the write that last changed it, so a
server holding in-memory match indexes reads only the alerts changed since it built them
(instead of rebuilding everything after any change). Existing rows get version 0.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("version", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index("ix_alert_version", ["version"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_version")
        batch_op.drop_column("version")
