"""Create or upgrade the database schema with Alembic (`safestreets init`)."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from safestreets.errors import StoreError


def _config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("safestreets.store") / "migrations"))
    return cfg


def head_revision() -> str | None:
    """The newest migration shipped with the package."""
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None when it was never initialised)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the database to the newest schema. Returns (revision before, revision after)."""
    cfg = _config()
    try:
        before = current_revision(engine)
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    except OperationalError as exc:
        raise StoreError(
            f"cannot initialise the database: {str(exc.orig).strip().splitlines()[0]}",
            hint="check SAFESTREETS_DATABASE_URL and that the server is running",
        ) from None
    return before, current_revision(engine)
