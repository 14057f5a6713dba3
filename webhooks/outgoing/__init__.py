"""Outgoing webhooks: subscriptions, Standard Webhooks signing, delivery with retries."""
