"""Constellation sync state: conflicts recorded for moderators (tables)."""
