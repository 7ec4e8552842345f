"""Analytics over the engine: scenario grids, breakeven, tranche sizing, static-pool history."""
