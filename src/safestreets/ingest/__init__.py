"""Ingest: agency files -> canonical records, validated, loaded as one transactional batch."""

from safestreets.ingest.counts import load_counts, load_population
from safestreets.ingest.load import ingest_file, load_canonical
from safestreets.ingest.profiles import Profile, builtin_profiles, load_profile
from safestreets.ingest.report import IngestReport

__all__ = [
    "IngestReport",
    "Profile",
    "builtin_profiles",
    "ingest_file",
    "load_canonical",
    "load_counts",
    "load_population",
    "load_profile",
]
