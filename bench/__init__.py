"""Benchmarks; each prints its measurement as a ratio against a reference run beside it."""
