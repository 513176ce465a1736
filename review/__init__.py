"""Reviewing the ICP against outcomes: backtest, what-if diff of two profile versions, calibration.

Every figure comes from records scored by :class:`runtime.engine.Scorer` (the one scoring
path); this package only groups, counts and draws.
"""
