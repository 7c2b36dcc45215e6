"""Settings read from ``SAFESTREETS_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
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
        public_delay_days: the public map shows a calendar year only once it ended at least
            this many days ago (and never an event more recent than that).
        public_k: disclosure threshold of the public map: counts from 1 to k-1 are hidden.
        public_cell_m: side of the public map's square cells, in metres.
        map_tile_url: an optional background tile layer for the public map (``https://.../
            {z}/{x}/{y}.png``); off by default: the map draws only the app's own outlines.
        map_tile_attribution: the attribution text the tile provider requires.
        clk_key_file: a file holding the key the member countries share for privacy-preserving
            person encodings (docs/sharing.md); when set, plain-text person queries are also
            encoded and compared with the alerts contributed as encodings.
        hit_threshold: the match probability from which a person query reports a hit.
    """

    model_config = SettingsConfigDict(env_prefix="SAFESTREETS_", env_file=None)

    data_dir: Path = Field(default=Path("safestreets-data"))
    database_url: str | None = None
    secret_key: str = DEFAULT_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    demo: bool = False
    public_delay_days: int = Field(default=30, ge=0)
    public_k: int = Field(default=5, ge=2)
    # Below 100 m a cell says little less than the points in it.
    public_cell_m: float = Field(default=500.0, ge=100.0)
    map_tile_url: str | None = None
    map_tile_attribution: str = ""
    clk_key_file: Path | None = None
    hit_threshold: float = Field(default=0.9, gt=0.0, lt=1.0)

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if not value.startswith(("https://", "http://")) or not all(
            part in value for part in ("{z}", "{x}", "{y}")
        ):
            raise ValueError("a tile URL template looks like https://host/{z}/{x}/{y}.png")
        return value

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to ``sqlite:///<data_dir>/safestreets.sqlite``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'safestreets.sqlite').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
