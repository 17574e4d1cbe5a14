"""Benchmarks: how close the bot comes to the limits Slack and RingCentral set (see BENCHMARKS.md)."""
