"""Shared practices: wiki pages with ``{{Practice}}``, tagged on the forum, adopted by partners."""
