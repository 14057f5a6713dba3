"""Tables of outgoing webhooks (subscriptions, messages, attempts)."""
