from __future__ import annotations

from typing import Any, Dict, List

import optuna

from ..space import Space
from .base import Strategy


class Grid(Strategy):
    """Every combination of the space's points, each exactly once.

    Continuous ranges need explicit points; conditional entries multiply only the
    points where they apply. The points are queued in the study's storage, so a resumed
    study runs the ones not yet run.
    """

    name = "grid"
    exhaustive = True

    def sampler(self):
        # every trial is queued with fixed params; the sampler only fills none
        return optuna.samplers.RandomSampler(seed=self.seed)

    def queued(self, space: Space) -> List[Dict[str, Any]]:
        return [params for _, params in space.grid()]
