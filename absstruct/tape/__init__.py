"""Loan tapes: the canonical schema, readers, mapping templates and validation."""
