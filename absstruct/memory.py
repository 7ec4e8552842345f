"""Keep freed memory in the process: the allocator setting of the processes absstruct runs.

A million-loan tape makes every numpy step allocate and free arrays of several
megabytes.  With glibc's default settings the allocator hands such memory back to the
kernel once it is freed (``munmap``, or trimming the top of the heap) and asks for it
again at the next step, and the kernel then faults every fresh page in: on virtual
machines that costs as much as the arithmetic, and varies from run to run.
:func:`keep_freed_memory` raises glibc's thresholds so that freed arrays are reused
instead.  The ``absstruct`` command and its batch workers call it at start; a program
that uses the library can call it too.  It changes how the whole process allocates, so
the library never calls it on its own.

Set ``ABSSTRUCT_MALLOC=default`` in the environment to keep glibc's defaults.

Examples
--------
>>> from absstruct.memory import keep_freed_memory
>>> keep_freed_memory() in (True, False)   # False off glibc or when switched off
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

# Arrays up to this size come from the heap, and this much free memory stays at its top
# before it is given back: a few of the largest arrays a million-loan step makes.
MMAP_THRESHOLD = 64 << 20
TRIM_THRESHOLD = 512 << 20

_applied: bool | None = None


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; whether they are set.

    False on other C libraries and platforms, or with ``ABSSTRUCT_MALLOC=default``.
    """
    global _applied
    if _applied is None:
        _applied = _apply()
    return _applied


def _apply() -> bool:
    if os.environ.get("ABSSTRUCT_MALLOC", "").strip().lower() == "default":
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )


__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory"]
