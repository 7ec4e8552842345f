"""Writers: every output is produced from a result object and written atomically."""

from absstruct.report.atomic import atomic_path
from absstruct.report.frames import write_frame, write_frames

__all__ = ["atomic_path", "write_frame", "write_frames"]
