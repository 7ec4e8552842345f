"""The README's set-up commands are the ones CI runs."""

from __future__ import annotations

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_opens_with_install_run_and_install_test_commands() -> None:
    run_line, test_line = _readme_commands()[:2]
    assert "pip install" in run_line and "absstruct" in run_line
    assert '".[test]"' in test_line and "pytest" in test_line


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_line = _readme_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_line in ci_lines, f"README test command not in .ci/run:\n{test_line}"
