"""Settings read from ``SAFESTREETS_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "change-me-demo-only"


class Settings(BaseSettings):
    """Runtime configuration.

    Attributes:
        data_dir: where the embedded SQLite database and the demo data live.
        database_url: SQLAlchemy URL; defaults to a SQLite file inside ``data_dir``.
        secret_key: signs sessions; the default is only acceptable in demo mode.
        host, port: where ``safestreets serve`` listens.
        demo: demo mode (synthetic data; the default secret is tolerated).
    """

    model_config = SettingsConfigDict(env_prefix="SAFESTREETS_", env_file=None)

    data_dir: Path = Field(default=Path("safestreets-data"))
    database_url: str | None = None
    secret_key: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///<data_dir>/safestreets.sqlite``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'safestreets.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
