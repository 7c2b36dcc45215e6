"""safestreets: citizen-security information system for Central America."""

__version__ = "0.1.0"
