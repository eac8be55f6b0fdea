from __future__ import annotations

import optuna

from .base import Strategy, trial_seed


class Random(Strategy):
    """Independent draws from every entry of the space, seeded per trial.

    Often more efficient than a grid (Bergstra & Bengio, 2012): each trial tries a new
    value of every important hyperparameter.
    """

    name = "random"

    def sampler(self, number: int):
        return optuna.samplers.RandomSampler(seed=trial_seed(self.seed, number))
