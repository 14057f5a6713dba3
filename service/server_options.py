"""How gunicorn runs the service: the README's "Running at scale", the demo, the scale
tests and the ingest benchmark use these options."""

# Threads, so a process's webhooks wait for their commit together (core/group_commit.py):
# eight, because a webhook mostly waits (with four, a process often had every thread
# waiting on a commit and its share of the CPU idle: the ingest bench measured 8–15% more
# webhooks a second with eight). The workers' heartbeat file in memory (gunicorn's docs:
# on a disk-backed filesystem it can block a worker).
GUNICORN_OPTIONS = ("--worker-class=gthread", "--threads=8", "--worker-tmp-dir=/dev/shm")
