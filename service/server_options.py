"""How gunicorn runs the service: the README's "Running at scale", the demo, the scale
tests and the ingest benchmark use these options."""

# Threads, so a process's webhooks wait for their commit together (core/group_commit.py);
# the workers' heartbeat file in memory (gunicorn's docs: on a disk-backed filesystem it
# can block a worker).
GUNICORN_OPTIONS = ("--worker-class=gthread", "--threads=4", "--worker-tmp-dir=/dev/shm")
