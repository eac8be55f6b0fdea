from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

import numpy as np
import optuna
from optuna.samplers import BaseSampler

from ..space import Space

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study import Study
    from optuna.trial import FrozenTrial, TrialState


def configuration_key(params: Dict[str, Any]) -> str:
    """One text per configuration, whatever the order of its Optuna params (a space given
    with its entries in another order names the same configurations)."""
    return json.dumps(params, sort_keys=True, default=repr)


def trial_seed(seed: Optional[int], number: int) -> Optional[int]:
    """The seed of trial ``number`` of a study seeded with ``seed`` (None stays unseeded)."""
    if seed is None:
        return None
    return int(np.random.SeedSequence([int(seed), int(number)]).generate_state(1)[0])


class Strategy:
    """How configurations are chosen.

    ``sampler(number)`` returns the Optuna sampler that draws the values of trial
    ``number``. It is seeded from the strategy's seed and the trial number, so the k-th
    trial of a study draws the same values however the study was interrupted, resumed or
    extended, and a resumed study never replays the draws of its first trials.
    ``queued(space)`` returns the Optuna params of trials to run first, in order (every
    point of a grid), or an empty list.
    """

    name = ""
    #: whether the strategy has a natural end (the grid runs out)
    exhaustive = False

    def __init__(self, seed: Optional[int] = 0) -> None:
        self.seed = seed

    def sampler(self, number: int) -> BaseSampler:
        """The Optuna sampler that draws trial ``number``'s configuration."""
        raise NotImplementedError

    def queued(self, space: Space) -> List[Dict[str, Any]]:
        """Configurations of ``space`` to run first, in order (none by default)."""
        return []


class FixedSampler(BaseSampler):
    """Gives one trial the values of a queued point (Optuna params, as the space encodes them)."""

    def __init__(self, params: Dict[str, Any]) -> None:
        self.params = params

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> Dict[str, BaseDistribution]:
        return {}

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: Dict[str, BaseDistribution]) -> Dict[str, Any]:
        return {}

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        if param_name not in self.params:
            raise ValueError(f"the queued point has no value for {param_name!r}")
        return self.params[param_name]


class PerTrialSampler(BaseSampler):
    """A study's sampler that hands each trial to a sampler of its own, ``make(number)``.

    Optuna's samplers keep no state between trials but their random generator (TPE reads
    the history from the study every time), so a fresh, trial-seeded sampler per trial
    changes nothing of how they choose, and makes every draw a function of the study's
    seed, the trial number and the trials told before it.
    """

    def __init__(self, make: Callable[[int], BaseSampler]) -> None:
        self._make = make
        self._current: Dict[int, BaseSampler] = {}

    def _for(self, trial: FrozenTrial) -> BaseSampler:
        sampler = self._current.get(trial.number)
        if sampler is None:
            sampler = self._current[trial.number] = self._make(trial.number)
        return sampler

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> Dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: Study, trial: FrozenTrial,
                        search_space: Dict[str, BaseDistribution]) -> Dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(self, study: Study, trial: FrozenTrial, state: TrialState,
                    values: Optional[Sequence[float]]) -> None:
        self._for(trial).after_trial(study, trial, state, values)
        self._current.pop(trial.number, None)
