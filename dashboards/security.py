"""What every response of the service carries against browsers being turned on it: CSRF
checks on every form (Flask-WTF), and the security headers with a strict
Content-Security-Policy (no inline script or style anywhere, so none can be injected).

Webhook endpoints are exempt from CSRF: their senders sign each request instead.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

from dashboards.headers import HSTS, SECURITY_HEADERS

csrf = CSRFProtect()

HEADERS = SECURITY_HEADERS
PRIVATE_PREFIXES = ("/dashboard", "/api/", "/people/")  # moderator data: never cached


def init_app(app: Flask) -> None:
    secure = bool(app.config["CONSTELLATE"]["dashboard"]["secure_cookies"])
    app.config.update(
        WTF_CSRF_TIME_LIMIT=3600,
        WTF_CSRF_SSL_STRICT=True,
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    extra = list(HEADERS.items()) + ([("Strict-Transport-Security", HSTS)] if secure else [])
    csrf.init_app(app)
    csrf.exempt(app.blueprints["incoming_wiki"])  # signed by its sender

    @app.after_request
    def add_headers(response: Response) -> Response:
        # One pass over the response's headers, not a lookup per header: this runs on
        # every answer, webhooks included, and Headers.setdefault is slow.
        present = {name.lower() for name, _ in response.headers.items()}
        response.headers.extend(
            [(name, value) for name, value in extra if name.lower() not in present]
        )
        if request.path.startswith(PRIVATE_PREFIXES) and not request.path.startswith(
            "/dashboard/static/"
        ):
            response.headers["Cache-Control"] = "no-store"
        return response
