"""Conversation health: metrics per constellation and forum category, snapshots, alerts."""
