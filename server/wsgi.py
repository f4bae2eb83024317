"""WSGI entry point for gunicorn: ``gunicorn server.wsgi:app``."""

from . import create_app
from .cli import prepared_config

app = create_app(prepared_config())
