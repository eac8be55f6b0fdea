"""Hyperparameter importance of a study: PED-ANOVA, in NumPy.

PED-ANOVA (Watanabe, Bansal and Hutter, "PED-ANOVA: Efficiently Quantifying Hyperparameter
Importance in Arbitrary Subspaces", IJCAI 2023) measures how much the better trials' values of
one hyperparameter differ from all the trials' values: the Pearson divergence between the two
marginal densities,

    importance(d) = sum over x of p_all(x) * (p_top(x) / p_all(x) - 1) ** 2,

with p_top the density of hyperparameter d among the top ``TOP_SHARE`` of the completed trials
(at least ``MIN_TOP``) and p_all its density among all of them. A hyperparameter whose good
values are spread like all the values tried explains nothing (0); one whose good values sit in
a corner of what was tried explains much. Importances are then normalised to sum to 1.

Optuna ships the same measure (``optuna.importance.PedAnovaImportanceEvaluator``), but
importing ``optuna.importance`` imports scikit-learn and SciPy for its fANOVA evaluator, about
3 s before the first number on a cold start: more than the rest of ``nnfast report``. This
module computes the measure itself, on the same principles (Parzen estimators with Scott's
bandwidth on a grid for numbers, smoothed frequencies for choices), so its numbers are close
to, not identical with, Optuna's.
"""

from __future__ import annotations

import math
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__all__ = ["ped_anova", "TOP_SHARE", "MIN_TOP", "GRID_POINTS"]

#: the share of the completed trials that counts as "the better trials" (Optuna's default quantile)
TOP_SHARE = 0.1
#: ... and at least this many of them, so that a small study still has a top to compare
MIN_TOP = 2
#: grid points on which a numeric hyperparameter's densities are compared
GRID_POINTS = 50


def _numeric_density(values: npt.NDArray[np.float64], grid: npt.NDArray[np.float64],
                     width: float) -> npt.NDArray[np.float64]:
    """A Gaussian Parzen estimate on ``grid`` with Scott's rule, 1.059 * sigma * n^(-1/5)
    (Scott, *Multivariate Density Estimation*, 1992, eq. 6.17), bounded below by a
    twentieth of the range so that identical values still spread a little."""
    n = len(values)
    sigma = float(np.std(values)) if n > 1 else 0.0
    bandwidth = max(1.059 * sigma * n ** -0.2, width / 20.0, 1e-12)
    density: npt.NDArray[np.float64] = np.exp(-0.5 * ((grid[:, None] - values[None, :]) / bandwidth) ** 2).sum(axis=1)
    return density / float(density.sum())


def _categorical_density(values: Sequence[object], choices: Sequence[object]) -> npt.NDArray[np.float64]:
    """Frequencies of each choice, with one pseudo-count per choice (Laplace smoothing)."""
    counts = np.ones(len(choices))
    index = {repr(c): i for i, c in enumerate(choices)}
    for v in values:
        counts[index[repr(v)]] += 1
    return counts / float(counts.sum())


def _divergence(top: npt.NDArray[np.float64], everyone: npt.NDArray[np.float64]) -> float:
    """Pearson divergence of ``top`` from ``everyone`` (two densities on one support)."""
    ratio = top / np.maximum(everyone, 1e-300)
    return float(np.sum(everyone * (ratio - 1.0) ** 2))


def ped_anova(trials: Sequence[Tuple[float, Mapping[str, object], Mapping[str, object]]],
              sign: float) -> Dict[str, float]:
    """PED-ANOVA importances of the searched hyperparameters, normalised to sum to 1, largest first.

    Parameters
    ----------
    trials : list of (score, params, distributions)
        The completed trials: the score, the values tried (Optuna's ``FrozenTrial.params``)
        and their Optuna distributions (``FrozenTrial.distributions``). A hyperparameter
        set only in some trials (``tune.uniform(...).when(...)``) is read over those.
    sign : float
        +1 when a higher score is better, -1 when lower is.

    Returns
    -------
    dict of str to float
        Empty when fewer than ``2 * MIN_TOP`` trials are given, or when no hyperparameter
        differs between them. A hyperparameter set in fewer than ``2 * MIN_TOP`` trials has
        most of them in its top: its importance is small and rough.
    """
    if len(trials) < 2 * MIN_TOP:
        return {}
    names: List[str] = []
    for _, params, _ in trials:
        names.extend(n for n in params if n not in names)
    raw: Dict[str, float] = {}
    for name in names:
        having = sorted(((score, params[name], dists[name]) for score, params, dists in trials if name in params),
                        key=lambda t: -sign * t[0])
        if len(having) < 2:  # a value set in one trial only: nothing to compare, nothing explained
            raw[name] = 0.0
            continue
        n_top = max(MIN_TOP, math.ceil(TOP_SHARE * len(having)))
        dist = having[0][2]
        values = [v for _, v, _ in having]
        choices = getattr(dist, "choices", None)
        if choices is not None:
            everyone = _categorical_density(values, choices)
            top = _categorical_density(values[:n_top], choices)
        else:
            x = np.asarray(values, dtype=float)
            low, high = float(getattr(dist, "low", x.min())), float(getattr(dist, "high", x.max()))
            if getattr(dist, "log", False):
                x, low, high = np.log(x), math.log(low), math.log(high)
            if high <= low:
                raw[name] = 0.0
                continue
            grid = np.linspace(low, high, GRID_POINTS)
            everyone = _numeric_density(x, grid, high - low)
            top = _numeric_density(x[:n_top], grid, high - low)
        if len({repr(v) for v in values}) < 2:
            raw[name] = 0.0
        else:
            raw[name] = _divergence(top, everyone)
    total = sum(raw.values())
    if not raw or total <= 0 or not math.isfinite(total):
        return {}
    return dict(sorted(((k, v / total) for k, v in raw.items()), key=lambda kv: -kv[1]))
