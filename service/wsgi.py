"""The WSGI entry for production servers: ``gunicorn 'service.wsgi:app'``.

The configuration comes from ``$CONSTELLATE_CONFIG`` and ``CONSTELLATE_*`` variables.
Each server process builds its own app (do not preload: database connections must not
be shared across forks). With several processes or machines, run workers apart
(``worker.embedded = false`` and ``constellate worker``) and wake them through Redis.
"""

from service.app import create_app

app = create_app()
