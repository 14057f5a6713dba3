"""The WSGI entry for production servers: ``gunicorn 'service.wsgi:app'``.

The configuration comes from ``$CONSTELLATE_CONFIG`` and ``CONSTELLATE_*`` variables.
Each server process builds its own app (do not preload: database connections must not
be shared across forks). With several processes or machines, run workers apart
(``worker.embedded = false`` and ``constellate worker``) and wake them through Redis;
then webhooks are answered by a small receiving app and the rest of the service is
loaded at its first other request (service/receiving.py).
"""

from service.web import web_app

app = web_app()
