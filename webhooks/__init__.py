"""Incoming events (Discourse webhooks, wiki pushes), outgoing Standard Webhooks, automations."""
