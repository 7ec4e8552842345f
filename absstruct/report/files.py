"""Atomic outputs with the permissions of an ordinary new file.

:func:`absstruct.report.atomic.atomic_path` writes through a private temporary file
(mode 0600); a report is meant to be shared, so before the rename the file gets the mode
a plain ``open(path, "w")`` would give it (0666 less the process umask).

Examples
--------
>>> import pathlib, tempfile
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with atomic_output(target) as tmp:
...     _ = tmp.write_text("done")
>>> target.read_text(), oct(target.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())
('done', True)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from absstruct.report.atomic import atomic_path


def current_umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Like ``atomic_path``, and the finished file is readable as a new file would be."""
    with atomic_path(target) as tmp:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
