from __future__ import annotations

import warnings
from typing import Optional

import optuna
from optuna.samplers import BaseSampler

from .base import Strategy, trial_seed


class Bayes(Strategy):
    """Bayesian optimisation with the Tree-structured Parzen Estimator (Bergstra et al., 2011).

    The first ``startup`` trials are random; after them each trial is drawn where good
    results are more likely than bad ones, modelling the space jointly (multivariate,
    grouped for conditional entries). Trials running in parallel are told apart with
    the constant-liar heuristic. In a space of finitely many configurations (at most
    :data:`nnfast.tune.strategies.random.MAX_SHUFFLED_POINTS`) no configuration runs twice:
    a proposal that repeats one is replaced by a point not run yet, chosen by the trial's
    seed, and the study ends when every point has run.

    TPE: Bergstra, Bardenet, Bengio and Kégl (2011), "Algorithms for Hyper-Parameter
    Optimization", NeurIPS; run by Optuna's ``TPESampler`` (``multivariate=True``,
    ``group=True``, ``constant_liar=True``),
    https://optuna.readthedocs.io/en/stable/reference/samplers/generated/optuna.samplers.TPESampler.html;
    the constant liar: Ginsbourger, Le Riche and Carraro (2010), "Kriging is well-suited
    to parallelize optimization", in *Computational Intelligence in Expensive
    Optimization Problems*.
    """

    name = "bayes"

    def __init__(self, seed: Optional[int] = 0, startup: int = 8) -> None:
        super().__init__(seed)
        self.startup = startup

    def sampler(self, number: int) -> BaseSampler:
        with warnings.catch_warnings():  # `group` is marked experimental in Optuna
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(seed=trial_seed(self.seed, number), n_startup_trials=self.startup,
                                              multivariate=True, group=True, constant_liar=True)
