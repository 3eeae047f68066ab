"""The WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""

from heatmap_app import create_app

app = create_app()
