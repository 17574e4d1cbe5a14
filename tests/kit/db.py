"""Fixtures for db (filled in by its owner)."""
