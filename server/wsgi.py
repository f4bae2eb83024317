"""WSGI entry point for gunicorn: ``gunicorn server.wsgi:app``."""

from . import create_app
from .cli import prepared_config
from .logs import configure_logging

app = create_app(prepared_config())
configure_logging(app.config["LOG_FORMAT"])
