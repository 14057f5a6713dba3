"""Connectors: the only code that talks to the wiki and the forum."""
