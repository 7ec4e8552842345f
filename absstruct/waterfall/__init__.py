"""The waterfall engine: periods x steps over scenario arrays, with ledgers out."""
