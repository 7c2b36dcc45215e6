"""The validation report of one ingest run."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IngestReport(BaseModel):
    """What happened to every row of a file.

    Invariant: ``rows_read == rows_loaded + rows_rejected + rows_duplicate``.
    """

    batch_id: int | None
    source: str
    profile: str
    file: str
    file_sha256: str
    read_as: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    rows_duplicate_in_file: int = 0
    rows_duplicate_in_store: int = 0
    rows_unmapped_category: int = 0
    rejections: dict[str, int] = Field(
        default_factory=dict, description="rows per rejection reason"
    )
    rejection_samples: dict[str, list[int]] = Field(
        default_factory=dict, description="first row numbers per reason"
    )
    warnings: dict[str, int] = Field(default_factory=dict)
    unmapped_categories: dict[str, int] = Field(
        default_factory=dict, description="loaded labels with no ICCS code, most frequent first"
    )
    occurred_min: str | None = None
    occurred_max: str | None = None
    notes: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    def check(self) -> None:
        """Assert the accounting invariant (a failure here is a bug, not a user error)."""
        total = self.rows_loaded + self.rows_rejected + self.rows_duplicate
        if total != self.rows_read:
            raise AssertionError(
                f"report does not add up: {self.rows_read} read, {total} accounted"
            )
