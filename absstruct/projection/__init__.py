"""Collateral cash-flow projection: schedules and the pure-numpy projection kernels."""
