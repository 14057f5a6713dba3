"""Constellate's core: app factory, configuration, store, errors and CLI."""
