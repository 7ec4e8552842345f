"""The allocator setting of absstruct's own processes (absstruct.memory)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from absstruct.cli import main

CHECK = "import absstruct.memory as m; print(m.keep_freed_memory(), m.keep_freed_memory())"


def _run(env_value: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "ABSSTRUCT_MALLOC"}
    if env_value is not None:
        env["ABSSTRUCT_MALLOC"] = env_value
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_thresholds_are_set_once_per_process_on_glibc() -> None:
    # A fresh process each time: the setting is process-wide and kept.
    assert _run(None) == "True True"


def test_default_in_the_environment_keeps_the_allocator_as_it_is() -> None:
    assert _run("default") == "False False"


def test_the_command_sets_its_own_process(monkeypatch) -> None:
    calls: list[bool] = []
    monkeypatch.setattr("absstruct.cli.keep_freed_memory", lambda: calls.append(True) or True)
    result = CliRunner().invoke(main, ["tape", "-h"])
    assert result.exit_code == 0, result.output
    assert calls == [True]


def test_library_import_leaves_the_allocator_alone() -> None:
    """Only absstruct's own processes change it: importing the library does not."""
    code = (
        "import absstruct, absstruct.pool, absstruct.tape, absstruct.memory as m; print(m._applied)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "None"
