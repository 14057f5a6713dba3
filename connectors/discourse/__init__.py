"""The Discourse connector: the only place that talks to the forum (through pydiscourse)."""

from connectors.discourse.client import ForumClient

__all__ = ["ForumClient"]
