"""The domain: constellations, practices, credits, health and beats (pure-ish logic over ports)."""
