"""Writers: every output is produced from a result object and written atomically.

``write_result(result, path, lang=...)`` picks the writer from the path (.xlsx workbook,
.json document, .csv/.parquet tidy table, or a folder of ledgers);
``write_workbook`` and ``write_pool_workbook`` write the Excel reports directly.
"""

from typing import TYPE_CHECKING, Any

from absstruct.report.atomic import atomic_path
from absstruct.report.frames import write_frame, write_frames

if TYPE_CHECKING:  # the real names, for type checkers; at run time they load lazily
    from absstruct.report.data import PoolReport, ReportData, report_data
    from absstruct.report.output import write_result
    from absstruct.report.workbook import write_pool_workbook, write_workbook


def __getattr__(name: str) -> Any:
    # The report writers import openpyxl / pyarrow: load them only when asked for.
    lazy = {
        "write_result": "absstruct.report.output",
        "write_workbook": "absstruct.report.workbook",
        "write_pool_workbook": "absstruct.report.workbook",
        "ReportData": "absstruct.report.data",
        "PoolReport": "absstruct.report.data",
        "report_data": "absstruct.report.data",
    }
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(lazy[name]), name)
    raise AttributeError(f"module 'absstruct.report' has no attribute {name!r}")


__all__ = [
    "PoolReport",
    "ReportData",
    "atomic_path",
    "report_data",
    "write_frame",
    "write_frames",
    "write_pool_workbook",
    "write_result",
    "write_workbook",
]
