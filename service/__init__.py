"""The wiring: the app factory, the command line, the WSGI entry, the worker loop and its
timers, the dispatch table, readiness probes and the /metrics endpoint. It assembles
the floors below and is imported by none of them."""
