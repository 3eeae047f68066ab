"""`flask capture`: the capture engine alone, which the Flask CLI finds without building the app.

It is a plugin command (the `flask.commands` entry point in pyproject.toml), and the Flask CLI looks
plugin commands up before it loads the app: `flask --app wsgi capture` starts Chrome without first
importing the web app, its models and its API, which costs more than a second (bench/README.md).
Inside an app context (app.cli's copy, app.test_cli_runner()) it uses that app's settings; otherwise
the ones the app would read, config.py's from the environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import click
from flask import current_app, has_app_context

from heatmap_app import INSTANCE_PATH
from heatmap_app.capture import CaptureError, CaptureRequest, capture_to_directory
from heatmap_app.capture.request import DEFAULT_WIDTHS, clean_widths
from heatmap_app.config import config_from_environment
from heatmap_app.screenshots import guarded_capture
from heatmap_app.urlsafety import UnsafeURLError


@click.command("capture")
@click.argument("url")
@click.option("--widths", default=",".join(map(str, DEFAULT_WIDTHS)), show_default=True,
              help="Comma-separated viewport widths in CSS px.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, writable=True),
              help="Folder that receives <width>.jpg.")
@click.option("--block-consent-modals", is_flag=True, help="Accept and hide cookie-consent banners.")
def capture_command(url: str, widths: str, out_dir: str, block_consent_modals: bool) -> None:
    """Capture URL at each width with the worker's engine, without database or queue; print a JSON summary."""
    wanted = _widths(widths)
    try:
        with guarded_capture(_settings(), url) as target:
            summary = capture_to_directory(
                CaptureRequest(target.url, wanted, block_consent_modals=block_consent_modals),
                out_dir,
                target.settings,
                explain_navigation_failure=target.explain_navigation_failure,
            )
    except (UnsafeURLError, CaptureError) as error:
        raise click.ClickException(str(error)) from error
    click.echo(json.dumps(summary))


def _widths(option: str) -> list[int]:
    """The --widths option as the API takes widths: each in range, sorted, without duplicates."""
    try:
        numbers = [int(part) for part in option.split(",") if part.strip()]
    except ValueError as error:
        raise click.BadParameter("use whole numbers separated by commas, e.g. 320,1024", param_hint="--widths") from error
    try:
        return clean_widths(numbers)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--widths") from error


def _settings() -> Mapping[str, Any]:
    return current_app.config if has_app_context() else config_from_environment(INSTANCE_PATH)
