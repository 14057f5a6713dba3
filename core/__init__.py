"""The foundation: configuration, the store, events and their kinds, the inbox, errors, the
clock, telemetry primitives and wake-ups. It imports nothing above it (a test checks)."""
