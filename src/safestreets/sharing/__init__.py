"""Cross-border sharing: alerts, name and ID normalisation, matching, privacy-preserving
encodings, hit/no-hit queries and follow-up requests (docs/sharing.md)."""
