"""absstruct: structure asset-backed securities.

loan tape -> pool -> projection -> waterfall -> pricing / analytics -> reports.
Each stage is a module callable on its own; see the README for the architecture.
"""

__version__ = "0.1.0"
