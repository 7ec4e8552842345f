"""Shared fixtures: the real data beside the project, and a CLI runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays a fixed set of generated examples so that a submission's result does not
# depend on the draw; locally every run explores new ones.
settings.register_profile("ci", derandomize=True, deadline=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LENDINGCLUB = SHARED / "data" / "lendingclub_2007_2011.csv.gz"
SIFMA_CASHFLOW_A = SHARED / "reference" / "bma_sda_cashflow_a.csv"


@pytest.fixture(scope="session")
def lendingclub_path() -> Path:
    """The real LendingClub 2007-2011 tape; tests that need it skip when it is absent."""
    if not LENDINGCLUB.exists():
        pytest.skip("../shared/data/lendingclub_2007_2011.csv.gz is not beside the project")
    return LENDINGCLUB


@pytest.fixture(scope="session")
def sifma_cashflow_a_path() -> Path:
    if not SIFMA_CASHFLOW_A.exists():
        pytest.skip("../shared/reference/bma_sda_cashflow_a.csv is not beside the project")
    return SIFMA_CASHFLOW_A


@pytest.fixture()
def runner():
    from click.testing import CliRunner

    return CliRunner()
