"""Constellations: charter pages on the wiki mirrored to forum categories and topics, and
the forum's activity written back to the page."""
