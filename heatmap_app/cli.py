"""Commands of `flask --app wsgi …`, each run inside the app context."""

from __future__ import annotations

import os

import click
from flask import Flask, current_app
from prometheus_client import start_http_server

from heatmap_app.accounts import AccountError, create_api_key, create_user, find_user_by_email
from heatmap_app.capture_command import capture_command
from heatmap_app.capture_settings import rotate_saved_secrets
from heatmap_app.interactions.retention import purge_expired
from heatmap_app.metrics import process_ended
from heatmap_app.ops import scrape_registry
from heatmap_app.queue import CAPTURE_QUEUE
from heatmap_app.secretbox import UnreadableSecret
from heatmap_app.worker import run_worker
from jobs.capture import close_worker_capturer


@click.command("create-user")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--first-name", default="")
@click.option("--last-name", default="")
@click.option("--organization", "organization_name", default=None, help="Name of the new user's organization.")
def create_user_command(email: str, password: str, first_name: str, last_name: str, organization_name: str | None) -> None:
    """Create a user with an organization and one project."""
    try:
        user = create_user(email, password, first_name=first_name, last_name=last_name,
                           organization_name=organization_name)
    except AccountError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created user {user.email}")
    click.echo(f"user id: {user.id}")
    click.echo(f"project id: {user.current_project_id}")


@click.command("create-api-key")
@click.argument("email")
@click.option("--label", required=True)
@click.option("--scopes", required=True, help="Comma-separated: heatmap:read, heatmap:write or *.")
@click.option("--projects", default=None, help="Comma-separated project ids the key is limited to.")
def create_api_key_command(email: str, label: str, scopes: str, projects: str | None) -> None:
    """Create a personal API key; the key is printed alone on the last line, and never again."""
    user = find_user_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with the email {email!r}.")
    try:
        project_ids = [int(part) for part in projects.split(",") if part.strip()] if projects else None
        key, raw_key = create_api_key(user, label, scopes.split(","), project_ids)
    except (AccountError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created key {key.mask_value} ({', '.join(key.scopes)}) for {user.email}. It is shown only once:")
    click.echo(raw_key)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--queues", default=CAPTURE_QUEUE, show_default=True, help="Comma-separated queue names.")
def worker_command(burst: bool, queues: str) -> None:
    """Run the capture worker inside the app context; it waits out Redis outages instead of exiting."""
    try:
        run_worker([name.strip() for name in queues.split(",") if name.strip()], burst=burst)
    finally:
        close_worker_capturer()
        process_ended(current_app.config["PROMETHEUS_MULTIPROC_DIR"], os.getpid())


@click.command("metrics")
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=9101, show_default=True, help="Port to listen on.")
def metrics_command(bind: str, port: int) -> None:
    """Serve this machine's metrics (its workers' counts and the queue) for Prometheus: for a machine with
    workers and no web server, whose /metrics does the same."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    server, thread = start_http_server(port, addr=bind, registry=scrape_registry(app))
    click.echo(f"Serving metrics on http://{bind}:{server.server_port}/metrics", err=True)
    thread.join()


@click.command("purge-heatmap-data")
def purge_heatmap_data_command() -> None:
    """Delete heatmap data past its retention settings (the worker does it too, hourly, while data arrives)."""
    for table, count in purge_expired(current_app.config).items():
        click.echo(f"{table}: {count} deleted")


@click.command("rotate-capture-secrets")
def rotate_capture_secrets_command() -> None:
    """Re-encrypt the saved capture secrets under the first key of CAPTURE_SECRET_KEYS (README: Secrets)."""
    try:
        count = rotate_saved_secrets()
    except UnreadableSecret as error:
        raise click.ClickException(f"{error} Nothing was changed.") from error
    click.echo(f"{count} heatmaps' capture secrets re-encrypted with the first key")


def register_commands(app: Flask) -> None:
    for command in (create_user_command, create_api_key_command, worker_command, capture_command,
                    purge_heatmap_data_command, metrics_command, rotate_capture_secrets_command):
        app.cli.add_command(command)
