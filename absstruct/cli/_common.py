"""Small helpers shared by the CLI modules (option parsing at the edge)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from absstruct.errors import AbsStructError


def parse_date_option(value: str | None, *, option: str) -> dt.date | None:
    """Parse an ISO date given on the command line (``2024-06-30``)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date like 2024-06-30", param_hint=option
        ) from None


def echo_json(payload: Any) -> None:
    """Print ``payload`` as deterministic JSON on stdout."""
    click.echo(json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=False, default=_default))


def _default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    item = getattr(value, "item", None)
    if callable(item):
        return item()
    raise AbsStructError(f"cannot write {type(value).__name__} as JSON")


def info(message: str) -> None:
    """A diagnostic line on stderr."""
    click.echo(message, err=True)


# Every command that writes a workbook takes the same language switch.
lang_option = click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="Labels of the .xlsx workbook: English or Chinese (numbers are identical).",
)
