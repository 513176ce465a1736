"""The few statistics the review reports use, written out plainly.

- rate = positives ÷ count; lift = rate ÷ base rate;
- Wilson score interval at 95 % (z = 1.959964);
- AUC by the rank (Mann–Whitney) formula, ties counted as one half.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

Z95 = 1.959964


def rate(positives: int, count: int) -> float | None:
    return positives / count if count else None


def lift(value: float | None, base: float | None) -> float | None:
    if value is None or not base:
        return None
    return value / base


def wilson(positives: int, count: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (None when there is nothing to estimate)."""
    if count <= 0:
        return None
    p = positives / count
    z2 = z * z
    denominator = 1 + z2 / count
    centre = (p + z2 / (2 * count)) / denominator
    half = z * math.sqrt(p * (1 - p) / count + z2 / (4 * count * count)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing the average of their ranks."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    before = np.cumsum(counts) - counts  # how many values are smaller than each distinct value
    return (before + (counts + 1) / 2)[inverse]


def auc(scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray) -> float | None:
    """P(score of a positive > score of a negative) + ½ P(equal), by ranks; None without both classes."""
    scores = np.asarray(scores, np.float64)
    labels = np.asarray(labels, bool)
    n_pos = int(labels.sum())
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    ranks = average_ranks(scores)
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
