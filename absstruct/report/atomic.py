"""Atomic output: write to a temporary file beside the target, then rename over it.

A failed run therefore never leaves half a file, and never destroys the previous output.

Examples
--------
>>> import pathlib, tempfile
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
>>> with atomic_path(target) as tmp:
...     _ = tmp.write_text("done")
>>> target.read_text()
'done'
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@functools.cache
def _new_file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0666 less the process umask."""
    # os.umask can only be read by setting it; do it once, not on every write.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``target`` on success.

    The temporary file keeps the target's suffix so that writers choosing a format by
    extension (openpyxl, pyarrow) behave the same.  On any exception the temporary file is
    removed and the target is left untouched.  The finished file gets the permissions of
    an ordinary new file (the temporary file is private while it is being written).
    """
    target = Path(target)
    folder = target.parent if str(target.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=folder)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, _new_file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
