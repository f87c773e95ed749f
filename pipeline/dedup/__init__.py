"""Dedup: fingerprints, stories within a day, and the cross-day history index."""
