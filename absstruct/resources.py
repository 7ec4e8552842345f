"""Locate the files absstruct ships: tape mapping templates and example deals.

In a source checkout they are the top-level ``templates/`` and ``deals/`` folders; in an
installed wheel the same folders ship as the packages ``absstruct._templates`` and
``absstruct._deals``.

Examples
--------
>>> templates_dir().name in ("templates", "_templates")
True
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def _shipped(package: str, source_folder: str) -> Path:
    source = _SOURCE_ROOT / source_folder
    if (_SOURCE_ROOT / "pyproject.toml").exists() and source.is_dir():
        return source
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        return source


def templates_dir() -> Path:
    """The folder holding ``tapes/*.toml`` mapping templates and the blank templates."""
    return _shipped("absstruct._templates", "templates")


def deals_dir() -> Path:
    """The folder holding the example deals and their synthetic tapes."""
    return _shipped("absstruct._deals", "deals")
