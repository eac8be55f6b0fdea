from __future__ import annotations

from typing import Any, Dict, List

import optuna
from optuna.samplers import BaseSampler

from ..space import Space
from .base import Strategy, trial_seed


class Grid(Strategy):
    """Every combination of the space's points, each exactly once.

    Continuous ranges need explicit points; conditional entries multiply only the
    points where they apply. A resumed study runs the points not yet run.
    """

    name = "grid"
    exhaustive = True

    def sampler(self, number: int) -> BaseSampler:
        # every trial of a grid runs a queued point; nothing is left to draw
        return optuna.samplers.RandomSampler(seed=trial_seed(self.seed, number))

    def queued(self, space: Space) -> List[Dict[str, Any]]:
        return [params for _, params in space.grid()]
