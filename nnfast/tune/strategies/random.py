from __future__ import annotations

from typing import Any, Dict, List

import numpy as np
import optuna
from optuna.samplers import BaseSampler

from ..space import Space
from .base import Strategy, configuration_key, trial_seed

#: int: a finite space of at most this many points is drawn without replacement
MAX_SHUFFLED_POINTS = 100_000


class Random(Strategy):
    """Independent draws from every entry of the space, seeded per trial.

    Often more efficient than a grid (Bergstra & Bengio, 2012): each trial tries a new
    value of every important hyperparameter. A space of finitely many configurations (no
    continuous range, at most :data:`nnfast.tune.strategies.random.MAX_SHUFFLED_POINTS`) is drawn without replacement:
    its points in an order shuffled by the seed, so no configuration runs twice and the
    study ends when every one has run.
    """

    name = "random"

    def sampler(self, number: int) -> BaseSampler:
        return optuna.samplers.RandomSampler(seed=trial_seed(self.seed, number))

    def queued(self, space: Space) -> List[Dict[str, Any]]:
        if not space.finite() or space.grid_size() > MAX_SHUFFLED_POINTS:
            return []
        # in an order that does not depend on the order of the space's entries, then shuffled
        points = sorted((params for _, params in space.grid()), key=configuration_key)
        order = np.random.default_rng(self.seed).permutation(len(points))
        return [points[i] for i in order]
