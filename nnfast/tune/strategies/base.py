from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..space import Space


class Strategy:
    """How configurations are chosen.

    ``sampler()`` returns the Optuna sampler that suggests values for new trials;
    ``queued(space)`` returns the Optuna params of trials to run first, in order
    (every point of a grid), or an empty list.
    """

    name = ""
    #: whether the strategy has a natural end (the grid runs out)
    exhaustive = False

    def __init__(self, seed: Optional[int] = 0) -> None:
        self.seed = seed

    def sampler(self):
        raise NotImplementedError

    def queued(self, space: Space) -> List[Dict[str, Any]]:
        return []
