"""The Discourse connector: the only place that talks to the forum (through pydiscourse)."""
