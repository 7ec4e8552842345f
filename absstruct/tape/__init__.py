"""Loan tapes: the canonical schema, readers, mapping templates and validation.

Read any servicer export through a mapping template (``templates/tapes/*.toml``) into the
canonical tape of :mod:`absstruct.tape.schema`::

    report = read_tape("export.csv", template="cn_consumer", cutoff="2026-06-30")
    report.summary()          # loans, balance, WAC, WAM, problems by rule
    frame = load_tape(...)    # the canonical DataFrame, or TapeError listing every error
"""

from absstruct.tape.ingest import load_tape, read_tape
from absstruct.tape.report import TapeReport
from absstruct.tape.synth import PROFILES, synth_tape
from absstruct.tape.template import Template, load_template, template_names

__all__ = [
    "PROFILES",
    "TapeReport",
    "Template",
    "load_tape",
    "load_template",
    "read_tape",
    "synth_tape",
    "template_names",
]
