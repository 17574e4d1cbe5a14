"""Fixtures for rc (filled in by its owner)."""
