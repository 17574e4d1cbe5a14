"""The Slack side: Bolt listeners and the pure building blocks they use (grammar, Block Kit, text)."""
