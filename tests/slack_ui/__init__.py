"""Tests of the pure Slack building blocks: grammar, phone numbers, Block Kit, message text."""
