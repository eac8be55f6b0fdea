"""Search strategies: how the next configuration is chosen.

Each strategy is a small class with one job: give the driver an Optuna sampler, and,
for exhaustive strategies, the points to queue. The driver asks the sampler for each
trial (ask-and-tell), so every strategy runs on any executor.
"""

from .base import Strategy
from .bayes import Bayes
from .grid import Grid
from .random import Random

#: strategy name -> class
STRATEGIES = {cls.name: cls for cls in (Grid, Random, Bayes)}

__all__ = ["Strategy", "Grid", "Random", "Bayes", "STRATEGIES"]
