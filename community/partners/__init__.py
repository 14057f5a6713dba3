"""Partner organisations, declared once on the wiki and followed on the forum."""
